/**
 * Bodies of a megabyte or more are parsed without their large strings (http/large-strings.ts): an
 * attachment's base64 is decoded from the body's bytes a step at a time, any other large string is put
 * back as JSON.parse would have read it. What a client sees must not change: the same files arrive, the
 * same content is stored, and every malformed body is still a 400 that names its problem.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import { eventually, ok, TEST_TOKEN, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';

/** 300 KB of every byte value: its base64 is a large string (over 64 KB), the body with it under 1 MB. */
const FILE = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7919) % 256));
/** 900 KB of text with what JSON escapes and what it need not: quotes, newlines, accents, an emoji. */
const NOTE = 'Line "one"\n\tLine two: é, ü, 日本, 😀, a\\backslash, a/slash. '.repeat(15_000).slice(0, 900 * 1024);

describe('large bodies parsed without their large strings', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  before(async () => {
    ({ s, smtp, shop } = await startShop({ kind: 'sqlite', env: { SALVO_CONTENT_LIMIT: String(2 * 1024 * 1024) } }));
  });
  after(() => stopShop(s, smtp));

  /** POSTs a JSON text as written (escapes and all) to triggers/start. */
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const post = (text: string, method = 'campaigns/triggers/start') => s.call(method, undefined, { raw: text, headers: auth });
  const body = (fields: string) => `{"id":${shop.campaigns.email},"email":"ann@example.com",${fields}}`;

  it('an attachment written as PHP json_encode writes it (every / escaped) arrives byte for byte; a large content string is stored as sent', async () => {
    const data = `data:application/pdf;base64,${FILE.toString('base64')}`.replaceAll('/', '\\/');
    const text = body(`"content":{"email_title":"Escaped","note":${JSON.stringify(NOTE)}},"attach":[{"data":"${data}","name":"file.pdf"}]`);
    assert.ok(text.length > 1024 * 1024, 'a body of a megabyte or more');
    const r = await post(text);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const launch = r.headers.get('launch-id');
    const mail = await eventually(async () => smtp.received.find((m) => m.mail.headers.get('x-salvo-launch-id') === launch), 15_000, 'the mail');
    assert.equal(mail.mail.attachments[0].contentType, 'application/pdf');
    assert.ok(mail.mail.attachments[0].content.equals(FILE), 'the bytes that arrived are the bytes sent');
    const [row] = ok(await s.call('messages/list', { launch_id: Number(launch) })).data;
    const m = ok(await s.call('messages/get', { id: row.id })).data;
    assert.equal(m.content.note, NOTE, 'the large content string as JSON.parse reads it');
  });

  const big = `data:text/plain;base64,${FILE.toString('base64')}`;
  for (const [what, fields, text] of [
    ['a NUL escaped in an attachment', `"attach":[{"data":"${big.slice(0, 1000)}\\u0000${big.slice(1000)}","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`, "field 'attach[0].data' must not contain the NUL character (\\u0000)"],
    ['an invalid escape in an attachment', `"attach":[{"data":"${big.slice(0, 1000)}\\x${big.slice(1000)}","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`, /^attach\[0\]\.data is not a valid JSON string: /],
    ['an escape cut by the end of an attachment', `"attach":[{"data":"${big}\\u00","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`, /^attach\[0\]\.data is not a valid JSON string: /],
    ['bad base64 in an attachment', `"attach":[{"data":"${big}*","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`, 'attach[0].data is not valid base64'],
    ['a NUL escaped in a large content string', `"attach":[{"data":"${big}","name":"a.txt"}],"content":{"note":${JSON.stringify(`${NOTE}\u0000`)}}`, "field 'content.note' must not contain the NUL character (\\u0000)"],
    ['an invalid escape in a large content string', `"attach":[{"data":"${big}","name":"a.txt"}],"content":{"note":"${JSON.stringify(NOTE).slice(1, -1)}\\q"}`, /^request body is not valid JSON/],
    ['a raw newline in an attachment', `"attach":[{"data":"${big}\n","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`, /^attach\[0\]\.data is not a valid JSON string: /],
    ['a raw tab in a large content string', `"attach":[{"data":"${big}","name":"a.txt"}],"content":{"note":"${JSON.stringify(NOTE).slice(1, -1)}\t"}`, /^request body is not valid JSON/],
    ['a __proto__ key', `"attach":[{"data":"${big}","name":"a.txt"}],"content":{"__proto__":{"x":1},"note":${JSON.stringify(NOTE)}}`, 'request body is not valid JSON'],
    ['a forged placeholder', `"attach":[{"data":"\\u0000large string 0000000000000000 0","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`, /must not contain the NUL character/],
  ] as const) {
    it(`${what}: 400 naming it`, async () => {
      const r = await post(body(fields));
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error, 400);
      if (typeof text === 'string') assert.equal(r.body.error_text, text);
      else assert.match(r.body.error_text, text);
    });
  }

  it('a body cut short: 400, not valid JSON', async () => {
    const r = await post(body(`"attach":[{"data":"${big}","name":"a.txt"}],"content":{"note":${JSON.stringify(NOTE)}}`).slice(0, -2));
    assert.deepEqual([r.status, r.body.error_text], [400, 'request body is not valid JSON']);
  });

  it('a batch with a large attachment sends it to every item', async () => {
    const data = `data:application/octet-stream;base64,${FILE.toString('base64')}`;
    const text = `{"id":${shop.campaigns.email},"content":{"note":${JSON.stringify(NOTE)}},"attach":[{"data":"${data}","name":"both.bin"}],"data":[{"email":"ann@example.com"},{"email":"john@example.com"}]}`;
    const r = await post(text, 'campaigns/triggers/start_batch');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const launch = r.headers.get('launch-id') ?? String(r.body.data.launch_id);
    const mails = await eventually(async () => {
      const got = smtp.received.filter((m) => m.mail.attachments.some((a) => a.filename === 'both.bin'));
      return got.length >= 2 && got;
    }, 15_000, `the two mails of launch ${launch}`);
    for (const m of mails) assert.ok(m.mail.attachments.find((a) => a.filename === 'both.bin')!.content.equals(FILE));
  });
});
