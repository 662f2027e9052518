/** `attach` items: {data: "data:<mime>;base64,...", name}. Decoded once per launch. */
import { badRequest, tooLarge } from './errors.ts';

export interface Attachment {
  name: string;
  mime: string;
  data: Buffer;
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
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
    if (typeof name !== 'string' || name.trim() === '' || name.length > 255 || /[\u0000-\u001f/\\]/.test(name)) {
      throw badRequest(`${at}.name must be a file name of 1 to 255 characters without / \\ or control characters`);
    }
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
    return { name, mime, data: bytes };
  });
}
