/**
 * SALVO_CONTENT_LIMIT: the most bytes of `content` and `custom_data` one launch may carry for one
 * message. Launch content is stored, cached and rendered for every message of the launch, so it is
 * bounded on its own, well below the body limit that leaves room for attachments (which keep their
 * own limit, SALVO_ATTACH_LIMIT). Batch calls apply it per item: the root content and custom_data
 * with the item's custom_data.
 */
import { tooLarge } from './errors.ts';

/** The bytes of a value as JSON text (UTF-8), 0 when absent. */
function jsonBytes(v: unknown): number {
  return v === undefined || v === null ? 0 : Buffer.byteLength(JSON.stringify(v));
}

const refuse = (where: string, size: number, limit: number) =>
  tooLarge(`${where}content and custom_data are ${size} bytes together, over the limit of ${limit} bytes (SALVO_CONTENT_LIMIT)`);

/** Refuses a single launch whose content and custom_data weigh more than `limit`. */
export function checkContentSize(body: { content?: unknown; custom_data?: unknown }, limit: number): number {
  const size = jsonBytes(body.content) + jsonBytes(body.custom_data);
  if (size > limit) throw refuse('', size, limit);
  return size;
}

/** The same for a batch: each item's custom_data counts with the root's content and custom_data. */
export function checkBatchContentSize(body: { content?: unknown; custom_data?: unknown; data?: unknown }, limit: number): void {
  const root = checkContentSize(body, limit);
  if (!Array.isArray(body.data)) return;
  body.data.forEach((item, i) => {
    const own = item && typeof item === 'object' ? jsonBytes((item as { custom_data?: unknown }).custom_data) : 0;
    if (root + own > limit) throw refuse(`data[${i}]: `, root + own, limit);
  });
}
