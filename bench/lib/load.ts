/** HTTP load with autocannon: a fixed number of connections for a while, a fresh body per request. */
import autocannon from 'autocannon';

export const TOKEN = 'bench-token-0123456789abcdef';

/**
 * One `campaigns/triggers/start` of the measuring aids (one at a time, not a load): the n-th trigger,
 * by the email of profile `email(n)`, content naming n. Throws unless answered 200; answers its Launch-Id.
 */
export async function startOne(url: string, campaignId: number, email: (n: number) => string, n: number): Promise<string> {
  const r = await fetch(`${url}/api/v1.1/campaigns/triggers/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: TOKEN, id: campaignId, email: email(n), content: { title: 'Accepted', n } }),
  });
  await r.text();
  if (r.status !== 200) throw new Error(`trigger ${n}: ${r.status}`);
  return r.headers.get('launch-id')!;
}

/** One API call to a Salvo under bench; answers `data`, throws on an error envelope. */
// biome-ignore lint/suspicious/noExplicitAny: scenarios read whatever data a method answers
export async function api(url: string, method: string, body: Record<string, unknown>): Promise<any> {
  const r = await fetch(`${url}/api/v1.1/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN, ...body }) });
  const answer = (await r.json()) as { error: number; error_text: string; data: unknown };
  if (answer.error !== 0) throw new Error(`${method}: ${answer.error_text}`);
  return answer.data;
}

/**
 * Requests of the warm-up before a measured load, the same for Salvo and for every baseline. A
 * count, not a time: V8 keeps optimizing Salvo's accept path for about 6,000 triggers
 * (`--trace-opt`, docs/performance-log.md "2026-12-08: accept before delivery"), so one second of
 * warm-up (a few hundred to a few thousand requests on this machine, fewer the slower the system)
 * compared a cold Salvo with a warm bare route.
 */
const WARM_UP_REQUESTS = 6_000;

/**
 * The warm-up: WARM_UP_REQUESTS at `connections`, then, where a sink counts what the warm-up sent,
 * a wait until it has all arrived (at most 60 s), so that its delivery does not run inside the
 * measured load. Answers the warm-up's own result.
 */
export async function warmUp(url: string, o: { connections: number; body: (n: number) => string; delivered?: () => number }): Promise<LoadResult> {
  const before = o.delivered?.() ?? 0;
  const r = await load(url, { connections: o.connections, seconds: 120, amount: WARM_UP_REQUESTS, body: o.body });
  const delivered = o.delivered;
  if (delivered) {
    const until = Date.now() + 60_000;
    while (delivered() < before + r.ok && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
  }
  return r;
}

export interface LoadResult {
  /** Success answers (2xx) a second: a refusal or an error is not throughput. */
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  errors: number;
  non2xx: number;
  /** Everything that was not a 2xx answer: non-2xx answers, errors and timeouts. */
  failed: number;
}

export function load(
  url: string,
  o: { connections: number; seconds: number; amount?: number; body: (n: number) => string; onAnswer?: (status: number, headers: Record<string, string>) => void },
): Promise<LoadResult> {
  let n = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        connections: o.connections,
        duration: o.seconds,
        ...(o.amount ? { amount: o.amount } : {}), // a fixed number of requests instead of a duration
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
        const ok = r['2xx'];
        const failed = r.non2xx + r.errors; // autocannon's errors include its timeouts
        resolve({ rps: ok / Math.max(0.001, r.duration), p50: r.latency.p50, p99: r.latency.p99, ok, errors: r.errors, non2xx: r.non2xx, failed });
      },
    );
  });
}
