/**
 * Work done in steps so that it does not hold the event loop: a generator that yields between steps
 * (core/attachments.ts decodes large base64 this way). The generator holds the rule; whoever runs it
 * decides what happens between steps: nothing (`runNow`), or other callbacks, I/O and timers
 * (`runInTurns`). Chosen over a worker thread: handing a 12 MB string to a thread copies it on the
 * event loop, which costs about as much as decoding it there (bench/attachment-decode.ts).
 */
import { yieldToEventLoop } from './background-loop.ts';
import type { Slots } from './slots.ts';

export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to the end at once. */
export function runNow<T>(steps: Steps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * Runs the steps with a turn of the event loop between each two. Work that finishes without a yield is
 * done at once; work that yields takes one of `slots` first (waiting for one in order), so that only so
 * many large pieces of work hold their memory at a time.
 */
export async function runInTurns<T>(steps: Steps<T>, slots: Slots): Promise<T> {
  let r = steps.next();
  if (r.done) return r.value;
  const giveBack = await slots.take();
  try {
    do {
      await yieldToEventLoop();
      r = steps.next();
    } while (!r.done);
    return r.value;
  } finally {
    giveBack();
  }
}
