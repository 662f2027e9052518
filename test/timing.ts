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

/**
 * Watches the event loop of this process from a setImmediate that schedules itself: `stop` answers how
 * many turns it had and the longest wait between two (how long a /health request would have waited).
 */
export function watchTurns(): { stop(): { turns: number; longestMs: number } } {
  let turns = 0;
  let longestMs = 0;
  let last = performance.now();
  let watching = true;
  const tick = () => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    turns++;
    if (watching) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      watching = false;
      // the wait since the last turn counts too: work that never let the loop turn shows as one long wait
      return { turns, longestMs: Math.max(longestMs, performance.now() - last) };
    },
  };
}
