/**
 * A launch request's parse run with the event loop free between its steps: a large base64 attachment
 * (core/attachments.ts, more than DECODE_STEP_CHARS) is decoded and hashed a step at a time, so that
 * /health, other requests and the workers' callbacks run in between; small ones are decoded at once.
 */
import { runInTurns, type Steps } from '../support/steps.ts';
import { Slots } from '../support/slots.ts';

/**
 * Requests whose large attachments are decoded at once in this process; the others wait their turn
 * in order. Each holds its decoded bytes (up to SALVO_ATTACH_LIMIT) beside its body while it runs.
 */
const LARGE_DECODES = 2;
const largeDecodes = new Slots(LARGE_DECODES);

export const inTurns = <T>(steps: Steps<T>): Promise<T> => runInTurns(steps, largeDecodes);
