/** Time helpers: how the API shows a time, and a deadline on a call. */

/** A time as the API shows it: ISO 8601 in UTC, from milliseconds since the epoch. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** Resolves with fn's answer, or rejects after `ms` (fn keeps running; its answer is then dropped). */
export function within<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms)));
  return Promise.race([fn(), late]).finally(() => clearTimeout(timer));
}
