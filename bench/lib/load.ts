/** HTTP load with autocannon: a fixed number of connections for a while, a fresh body per request. */
import autocannon from 'autocannon';

export const TOKEN = 'bench-token-0123456789abcdef';

/** One API call to a Salvo under bench; answers `data`, throws on an error envelope. */
// biome-ignore lint/suspicious/noExplicitAny: scenarios read whatever data a method answers
export async function api(url: string, method: string, body: Record<string, unknown>): Promise<any> {
  const r = await fetch(`${url}/api/v1.1/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN, ...body }) });
  const answer = (await r.json()) as { error: number; error_text: string; data: unknown };
  if (answer.error !== 0) throw new Error(`${method}: ${answer.error_text}`);
  return answer.data;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  errors: number;
  non2xx: number;
}

export function load(
  url: string,
  o: { connections: number; seconds: number; body: (n: number) => string; onAnswer?: (status: number, headers: Record<string, string>) => void },
): Promise<LoadResult> {
  let n = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        connections: o.connections,
        duration: o.seconds,
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req: Record<string, unknown>) => ({ ...req, body: o.body(n++) }),
            onResponse: (status: number, _body: string, _ctx: unknown, headers: Record<string, string>) => o.onAnswer?.(status, headers),
          },
        ],
      } as never,
      (err: Error | null, r: autocannon.Result) => {
        if (err) return reject(err);
        resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, ok: r['2xx'], errors: r.errors, non2xx: r.non2xx });
      },
    );
  });
}
