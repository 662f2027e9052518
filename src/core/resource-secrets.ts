/**
 * The secrets in a resource's provider settings, and how the API shows them. resources/get and
 * resources/list show each secret as "********" (the key stays, so a client sees it is set); in a URL
 * the password and every query value become "********" (a value made only of `{to}`, `{sender}`,
 * `{text}` stays readable). resources/update takes a value sent back exactly as shown as "keep what
 * is stored", so a client can edit a resource it read and send it back whole.
 */
import type { EmailSender, PushSettings, SmsSettings } from './types.ts';

const REDACTED = '********';

/** Header values that are not secrets and stay readable. */
const PLAIN_HEADERS = new Set(['content-type', 'accept', 'user-agent']);
const PLACEHOLDERS_ONLY = /^(\{(to|sender|text)\})*$/;

type Block = 'email' | 'sms' | 'push';

interface SecretPath {
  block: Block;
  path: string[];
  /** `value`: the whole string; `url`: password and query values; `headers`: each value of the object. */
  kind: 'value' | 'url' | 'headers';
}

/** Every secret a resource holds. A new provider setting that is a secret belongs here. */
const SECRET_PATHS: readonly SecretPath[] = [
  { block: 'email', path: ['dkim', 'private_key'], kind: 'value' },
  { block: 'sms', path: ['smpp', 'url'], kind: 'url' },
  { block: 'sms', path: ['http', 'url'], kind: 'url' },
  { block: 'sms', path: ['http', 'headers'], kind: 'headers' },
  { block: 'push', path: ['webpush', 'vapid_private_key'], kind: 'value' },
  { block: 'push', path: ['fcm', 'service_account', 'private_key'], kind: 'value' },
  { block: 'push', path: ['fcm', 'service_account', 'private_key_id'], kind: 'value' },
  { block: 'push', path: ['apns', 'private_key'], kind: 'value' },
];

/** A URL with its password and query values masked; placeholders and a URL that does not parse are left. */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw;
  }
  if (u.password) u.password = REDACTED;
  const query = u.search.slice(1);
  if (query) {
    const masked = query
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq < 0) return pair;
        const value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
        return PLACEHOLDERS_ONLY.test(value) ? pair : `${pair.slice(0, eq)}=${REDACTED}`;
      })
      .join('&');
    u.search = '';
    return `${u.toString().replace(/\?$/, '')}?${masked}`.replace(/%7B(to|sender|text)%7D/gi, '{$1}');
  }
  return u.toString().replace(/%7B(to|sender|text)%7D/gi, '{$1}');
}

function redactHeaders(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, PLAIN_HEADERS.has(k.toLowerCase()) || v === '' ? v : REDACTED]));
}

type Obj = Record<string, unknown>;

function getAt(o: unknown, path: string[]): unknown {
  let v = o;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Obj)[k];
  }
  return v;
}

/** A copy of `o` with the value at `path` replaced (the parents copied, never shared). */
function setAt<T>(o: T, path: string[], value: unknown): T {
  const [head, ...rest] = path;
  const copy = { ...(o as Obj) };
  copy[head] = rest.length ? setAt(copy[head], rest, value) : value;
  return copy as T;
}

const redactors = {
  value: (v: unknown) => (typeof v === 'string' && v !== '' ? REDACTED : v),
  url: (v: unknown) => (typeof v === 'string' ? redactUrl(v) : v),
  headers: (v: unknown) => (v && typeof v === 'object' ? redactHeaders(v as Record<string, string>) : v),
};

/** The blocks as the API shows them. */
export function redactSettings<T extends { email: EmailSender | null; sms: SmsSettings | null; push: PushSettings | null }>(r: T): T {
  let out = r;
  for (const s of SECRET_PATHS) {
    const block = out[s.block];
    const v = getAt(block, s.path);
    if (v === undefined) continue;
    out = { ...out, [s.block]: setAt(block, s.path, redactors[s.kind](v)) };
  }
  return out;
}

/**
 * An incoming block (resources/update) with every secret sent back as shown replaced by the stored
 * one. A header sent back as "********" keeps the stored header of that name; a URL sent back equal to
 * the stored URL's redacted form keeps the stored URL.
 */
export function restoreSecrets<B extends EmailSender | SmsSettings | PushSettings>(block: Block, incoming: unknown, stored: B | null): unknown {
  if (!incoming || typeof incoming !== 'object' || !stored) return incoming;
  let out = incoming;
  for (const s of SECRET_PATHS) {
    if (s.block !== block) continue;
    const sent = getAt(out, s.path);
    const kept = getAt(stored, s.path);
    if (sent === undefined || kept === undefined) continue;
    if (s.kind === 'headers') {
      if (!sent || typeof sent !== 'object') continue;
      const h = { ...(sent as Obj) };
      for (const [name, value] of Object.entries(h)) {
        if (value === REDACTED && typeof (kept as Obj)[name] === 'string') h[name] = (kept as Obj)[name];
      }
      out = setAt(out, s.path, h);
    } else if (sent === redactors[s.kind](kept)) {
      out = setAt(out, s.path, kept);
    }
  }
  return out;
}

type Blocks = { email?: EmailSender | null; sms?: SmsSettings | null; push?: PushSettings | null };

/**
 * The secrets (as `sms.smpp.url`) whose value differs between two resources' settings: what a write
 * from `before` to `after` would set, change or remove. Only an admin token may (core/roles.ts).
 */
export function changedSecrets(before: Blocks, after: Blocks): string[] {
  const changed: string[] = [];
  for (const s of SECRET_PATHS) {
    const a = getAt(before[s.block], s.path);
    const b = getAt(after[s.block], s.path);
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) changed.push([s.block, ...s.path].join('.'));
  }
  return changed;
}
