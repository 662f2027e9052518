/** `attach` items: {data: "data:<mime>;base64,...", name}. Decoded once per launch. */
import { badRequest, tooLarge } from './errors.ts';

export interface Attachment {
  name: string;
  mime: string;
  data: Buffer;
}

/** Right-to-left and other direction overrides and marks: they make `invoice_gpj.exe` show as `invoice_exe.jpg`. */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** Half of a UTF-16 surrogate pair without its other half: not text, and no mail header can carry it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why an attachment name cannot be used, or null. Refused rather than cleaned up: the caller learns the
 * name is wrong, and the file arrives under the name that was sent or not at all.
 */
function nameProblem(name: unknown): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (typeof name !== 'string' || name.trim() === '' || name.length > 255 || /[\u0000-\u001f\u007f-\u009f/\\]/.test(name)) {
    return 'must be a file name of 1 to 255 characters without / \\ or control characters';
  }
  if (name.includes('\ufffd')) return 'is not valid UTF-8 (it holds U+FFFD, the replacement for bytes that are not UTF-8)';
  if (LONE_SURROGATE.test(name)) return 'holds a lone UTF-16 surrogate (\\ud800-\\udfff without its pair)';
  const bidi = BIDI_CONTROLS.exec(name);
  if (bidi) return `holds the text-direction control U+${bidi[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, which can disguise a file's type`;
  return null;
}

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*);base64,/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeAttachments(items: unknown, limitBytes: number): Attachment[] {
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) throw badRequest("field 'attach' must be an array of {data, name}");
  let total = 0;
  return items.map((item, i) => {
    const at = `attach[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badRequest(`${at} must be an object {data, name}`);
    const { data, name } = item as { data?: unknown; name?: unknown };
    const problem = nameProblem(name);
    if (problem) throw badRequest(`${at}.name ${problem}`);
    if (typeof data !== 'string') throw badRequest(`${at}.data must be a data URL string: data:<mime>;base64,<data>`);
    const m = DATA_URL.exec(data);
    if (!m) throw badRequest(`${at}.data is not a base64 data URL (data:<mime>;base64,<data>)`);
    const payload = data.slice(m[0].length).replace(/\s+/g, '');
    if (payload.length % 4 === 1 || !BASE64.test(payload)) throw badRequest(`${at}.data is not valid base64`);
    const bytes = Buffer.from(payload, 'base64');
    total += bytes.length;
    if (total > limitBytes) throw tooLarge(`attachments are larger than the limit of ${limitBytes} bytes`);
    const mime = m[1] || 'application/octet-stream';
    if (!/^[\w.+-]+\/[\w.+-]+$/.test(mime)) throw badRequest(`${at}.data has an invalid MIME type '${mime}'`);
    return { name: name as string, mime, data: bytes };
  });
}
