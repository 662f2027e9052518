/**
 * Timing bounds that a loaded CI meets. A test names the target the behaviour aims at and a bound with
 * the margin a busy 2-core machine needs (several test files run at once there), prints what it
 * measured either way, and fails only past the bound. The bound still tells the behaviour apart from
 * the fault it guards against: that one takes many times longer (a blocked event loop, a wait for a
 * deadline, an exponential regex).
 */
import assert from 'node:assert/strict';

export function assertTiming(what: string, measuredMs: number, o: { targetMs: number; boundMs: number }): void {
  const line = `${what}: ${measuredMs.toFixed(1)} ms (target ${o.targetMs} ms, bound ${o.boundMs} ms)`;
  console.log(`timing: ${line}`);
  assert.ok(measuredMs < o.boundMs, line);
}
