/**
 * campaigns/triggers/start end to end: through HTTP, stored, sent by the workers over SMTP to a real
 * SMTP server, parsed by mailparser. The three request examples of the reference page come first.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import { addProfile, type Shop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

for (const kind of STORE_KINDS) {
  describe(`trigger start on ${kind}`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind }));
    });
    after(() => stopShop(s, smtp));

    /** Starts a launch and answers the response with its launch id. */
    const start = async (body: Record<string, unknown>) => {
      const r = await s.call('campaigns/triggers/start', body);
      return { ...r, launch: Number(r.headers.get('launch-id')) };
    };
    const mailsOf = async (launch: number, count: number) =>
      eventually(async () => {
        const mails = smtp.received.filter((m) => m.mail.headers.get('x-salvo-launch-id') === String(launch));
        return mails.length >= count && mails;
      }, 15_000, `${count} mails of launch ${launch}`);

    it('example 1: triggers a campaign for a single subscriber by profile_id', async () => {
      const r = await start({ id: shop.campaigns.email, matching: 'profile_id', profile_id: shop.profiles.john });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { data: null, error: 0, error_text: 'Successful operation' });
      assert.ok(r.launch > 0);
      const [m] = await mailsOf(r.launch, 1);
      assert.deepEqual(m.to, ['john@example.com']);
      assert.equal(m.from, 'news@shop.example');
      assert.equal(m.mail.from?.value[0].name, 'Shop News');
      assert.match(m.mail.html as string, /<p>Hi John!<\/p>/);
    });

    it('example 2: sends to every profile a custom_request names', async () => {
      const r = await start({ id: String(shop.campaigns.email), custom_request: { Custom_ID: { $in: ['IpHicQquekzYkufl', 'xzFKLXeaJkCYHuMb', 'SRNOwHVZiWFItJhr'] } } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const mails = await mailsOf(r.launch, 3);
      assert.deepEqual(mails.map((m) => m.to[0]).sort(), ['ann@example.com', 'bob@example.com', 'john@example.com']);
    });

    it('example 3: content fills the subject and a loop, attachments arrive with their names and bytes', async () => {
      const r = await start({
        id: shop.campaigns.email,
        matching: 'profile_id',
        profile_id: shop.profiles.john,
        attach: [
          { data: 'data:text/csv;base64,5LuK5pel44GvCg==', name: '日本.txt' },
          { data: 'data:text/csv;base64,SEVMTE8K', name: 'US.txt' },
        ],
        content: { data_lines: ['Channel A', 'Channel B'], email_title: 'New videos on your favorite channels' },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const [{ mail }] = await mailsOf(r.launch, 1);
      assert.equal(mail.subject, 'New videos on your favorite channels');
      assert.match(mail.html as string, /<ul><li>Channel A<\/li><li>Channel B<\/li><\/ul>/);
      assert.equal(mail.text?.trim(), 'Hi John! [Channel A][Channel B]');
      assert.deepEqual(
        mail.attachments.map((a) => [a.filename, a.content.toString('utf8')]),
        [['日本.txt', '今日は\n'], ['US.txt', 'HELLO\n']],
      );
      assert.equal(mail.attachments[0].contentType, 'text/csv');
    });

    it('escapes content in the HTML part only, and applies the campaign overrides', async () => {
      const r = await start({ id: shop.campaigns.override, email: 'ann@example.com', content: { email_title: 'x', data_lines: [], note: '<b>5 & 6</b>' } });
      const [m] = await mailsOf(r.launch, 1);
      assert.equal(m.mail.subject, 'Override for Ann');
      assert.equal(m.from, 'team@shop.example');
      assert.equal(m.mail.from?.value[0].name, 'The Team');
      assert.match(m.mail.html as string, /<p>&lt;b&gt;5 &amp; 6&lt;\/b&gt;<\/p>/);
    });

    it('finds the profile by every matching mode', async () => {
      const subOnly = await addProfile(
        s,
        shop.db,
        { Custom_ID: 'sub-only', _fname: 'Sub', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'alias@example.com' }, { resource_id: shop.resource, channel: 'sms', phone: '+79000000077' }] },
        { matching: 'custom', field_name: 'Custom_ID', field_value: 'sub-only' },
      );
      const cases: [Record<string, unknown>, string, number?][] = [
        [{ email: 'john@example.com' }, shop.profiles.john],
        [{ matching: 'email', email: 'ALIAS@example.com' }, subOnly],
        [{ matching: 'email_profile', email: 'ann@example.com' }, shop.profiles.ann],
        [{ matching: 'email_sub', email: 'alias@example.com' }, subOnly],
        [{ matching: 'email_sub', email: 'alias@example.com', resource_id: shop.resource }, subOnly],
        [{ matching: 'phone', phone: '+7 900 000-00-01' }, shop.profiles.john, shop.campaigns.sms],
        [{ matching: 'phone', phone: '+79000000077' }, subOnly, shop.campaigns.sms],
        [{ matching: 'phone_sub', phone: '+79000000077' }, subOnly, shop.campaigns.sms],
        [{ matching: 'profile_id', profile_id: shop.profiles.bob }, shop.profiles.bob],
        [{ matching: 'custom', field_name: 'CRM_ID', field_value: '123420' }, shop.profiles.john],
        [{ matching: 'custom', field_name: 'Custom_ID', field_value: 'xzFKLXeaJkCYHuMb' }, shop.profiles.ann],
        [{ matching: 'custom', field_name: 'Tags', field_value: 'tag-2, tag-1' }, shop.profiles.john],
        [{ matching: 'push_sub', subscription_id: 'CAREFULWITHTHATAXE' }, shop.profiles.john, shop.campaigns.push],
      ];
      for (const [params, profile, campaign] of cases) {
        const r = await start({ id: campaign ?? shop.campaigns.email, content: { code: 42, body: 'New!', path: 'p' }, ...params });
        assert.equal(r.status, 200, `${JSON.stringify(params)}: ${JSON.stringify(r.body)}`);
        const [m] = ok(await s.call('messages/list', { launch_id: r.launch })).data;
        assert.equal(m.profile_id, profile, JSON.stringify(params));
        assert.equal(m.status === 'skipped' ? m.skip_reason : 'ok', 'ok', JSON.stringify(params));
      }
      const otherResource = await start({ id: shop.campaigns.email, matching: 'email_sub', email: 'alias@example.com', resource_id: shop.other });
      assert.equal(otherResource.status, 404, 'resource_id narrows subscription matching');
    });

    it('captures SMS and push in the outbox with their rendering', async () => {
      const sms = await start({ id: shop.campaigns.sms, matching: 'phone', phone: '+79000000001', content: { code: 'A1B2' } });
      const push = await start({ id: shop.campaigns.push, matching: 'profile_id', profile_id: shop.profiles.john, content: { body: 'Sale <now>', path: 'sale' } });
      const smsOut = await eventually(async () => ok(await s.call('outbox/list', { channel: 'sms', recipient: '+79000000001' })).data.find((e: { body: string }) => e.body.includes('A1B2')));
      assert.equal(smsOut.body, 'Code A1B2 for +79000000001');
      assert.equal(smsOut.sender, 'SHOP');
      const pushOut = await eventually(async () => ok(await s.call('outbox/list', { channel: 'push' })).data.find((e: { body: string }) => e.body === 'Sale <now>'));
      assert.deepEqual([pushOut.recipient, pushOut.subject, pushOut.extra.url, pushOut.extra.provider], ['CAREFULWITHTHATAXE', 'Hi John', 'https://shop.example/sale', 'Chrome']);
      assert.ok(sms.launch && push.launch);
    });

    it('answers each error with its code and a text naming the problem', async () => {
      const c = shop.campaigns;
      const cases: [Record<string, unknown>, number, string | RegExp][] = [
        [{ id: 999, email: 'john@example.com' }, 404, 'trigger campaign 999 not found'],
        [{ id: c.inactive, email: 'john@example.com' }, 400, `trigger campaign ${c.inactive} is not active`],
        [{ id: c.action, email: 'john@example.com' }, 400, `campaign ${c.action} is an 'action' trigger; only api_call campaigns start from the API`],
        [{ id: c.email, email: 'nobody@example.com' }, 404, `no profile found for email nobody@example.com in database ${shop.db}`],
        [{ id: c.email, matching: 'custom', field_name: 'Tags', field_value: 'tag-1' }, 409, `2 profiles match Tags "tag-1" in database ${shop.db}; use custom_request to reach several`],
        [{ id: c.email, custom_request: { Custom_ID: 'none' } }, 404, /^no profile matches custom_request \(launch \d+\)$/],
        [{ email: 'john@example.com' }, 400, "field 'id' is required"],
        [{ id: 'eighty-four', email: 'john@example.com' }, 400, /field 'id' must match pattern/],
        [{ id: c.email }, 400, "field 'email' is required for matching 'email'"],
        [{ id: c.email, matching: 'fax', email: 'x@y.z' }, 400, /field 'matching' must be one of "email", "email_profile"/],
        [{ id: c.email, matching: 'profile_id', profile_id: 'abcdefghijklmnqrstuvwxyz' }, 400, "field 'profile_id' must be a 24-hex profile id"],
        [{ id: c.email, matching: 'custom', field_name: 'Nope', field_value: 1 }, 400, `field_name 'Nope' is not a field of database ${shop.db}`],
        [{ id: c.email, matching: 'custom', field_name: 'CRM_ID', field_value: 'abc' }, 400, "field_value must be an integer for int field 'CRM_ID'"],
        [{ id: c.email, custom_request: { $where: 'sleep(1)' } }, 400, /^custom_request\.\$where: operator '\$where' is not allowed/],
        [{ id: c.email, custom_request: { a: { $expr: 1 } } }, 400, /custom_request\.a\.\$expr: operator '\$expr' is not allowed/],
        [{ id: c.email, email: 'john@example.com', attach: [{ data: 'data:text/plain;base64,SEVMTE8K', name: 'a.txt' }, { data: 'not a data url', name: 'b.txt' }] }, 400, 'attach[1].data is not a base64 data URL (data:<mime>;base64,<data>)'],
        [{ id: c.email, email: 'john@example.com', attach: [{ data: 'data:text/plain;base64,SGVsbG8*', name: 'a.txt' }] }, 400, 'attach[0].data is not valid base64'],
        [{ id: c.email, email: 'john@example.com', content: [1] }, 400, "field 'content' must be an object"],
        [{ id: c.email, email: 'john@example.com', subscription_filter: { email: 'nope' } }, 400, /subscription_filter\.email' is not a valid email/],
      ];
      for (const [body, code, text] of cases) {
        const r = await start(body);
        assert.equal(r.status, code, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, code);
        if (typeof text === 'string') assert.equal(r.body.error_text, text);
        else assert.match(r.body.error_text, text);
      }
    });

    it('decodes a large attachment in steps: it arrives intact with its SHA-256, and bad base64 at its end is still refused', async () => {
      // 3 MB: four times core/attachments.ts DECODE_STEP_CHARS of base64, so it is decoded in steps; whitespace as MIME wraps lines
      const file = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7919) % 251));
      const wrapped = file.toString('base64').replace(/.{76}/g, '$&\r\n');
      const r = await start({ id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'Large file' }, attach: [{ data: `data:application/pdf;base64,${wrapped}`, name: 'big.pdf' }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const [{ mail }] = await mailsOf(r.launch, 1);
      assert.equal(mail.attachments.length, 1);
      assert.equal(mail.attachments[0].filename, 'big.pdf');
      assert.ok(mail.attachments[0].content.equals(file), 'the bytes that arrived are the bytes sent');
      const [row] = ok(await s.call('messages/list', { launch_id: r.launch })).data;
      const m = ok(await s.call('messages/get', { id: row.id })).data;
      assert.deepEqual(m.attachments, [{ name: 'big.pdf', mime: 'application/pdf', size: file.length, sha256: createHash('sha256').update(file).digest('hex') }]);

      for (const [tail, what] of [['*', 'a character outside the alphabet'], ['A', 'a group of one character'], ['==A', 'padding before the end']]) {
        const bad = await start({ id: shop.campaigns.email, email: 'ann@example.com', attach: [{ data: 'data:text/plain;base64,SEVMTE8K', name: 'a.txt' }, { data: `data:application/pdf;base64,${wrapped}${tail}`, name: 'big.pdf' }] });
        assert.deepEqual([bad.status, bad.body.error_text], [400, 'attach[1].data is not valid base64'], what);
      }
    });

    it('refuses attachments over the size limit with 413', async () => {
      const big = Buffer.alloc(s.config.attachLimit + 1, 1).toString('base64');
      const r = await start({ id: shop.campaigns.email, email: 'john@example.com', attach: [{ data: `data:application/octet-stream;base64,${big}`, name: 'big.bin' }] });
      assert.equal(r.status, 413);
      assert.equal(r.body.error_text, `attachments are larger than the limit of ${s.config.attachLimit} bytes`);
    });

    it('sends nothing when the content filter does not match, and says so in the log', async () => {
      const miss = await start({ id: shop.campaigns.filtered, email: 'john@example.com', content: { kind: 'podcast' } });
      assert.equal(miss.status, 200);
      assert.deepEqual(ok(await s.call('messages/list', { launch_id: miss.launch })).data, []);
      const log = ok(await s.call('campaigns/log_v2', { id: shop.campaigns.filtered })).data;
      assert.equal(log[0].message, `launch ${miss.launch} (start): content does not match the campaign's content_filter; nothing sent`);
      assert.equal(log[0].level, 'warning');
      const hit = await start({ id: shop.campaigns.filtered, email: 'john@example.com', content: { kind: 'video', email_title: 'Filtered in' } });
      const [m] = await mailsOf(hit.launch, 1);
      assert.equal(m.mail.subject, 'Filtered in');
    });

    it('logs each launch, and shows each message with its history, rendering, attachments and custom_data', async () => {
      const r = await start({
        id: shop.campaigns.email, email: 'bob@example.com', custom_data: { order: 'A-17' },
        content: { email_title: 'Your order', data_lines: ['x'] }, attach: [{ data: 'data:text/plain;base64,SEVMTE8K', name: 'receipt.txt' }],
      });
      await mailsOf(r.launch, 1);
      const [row] = await eventually(async () => {
        const list = ok(await s.call('messages/list', { launch_id: r.launch, status: 'sent' })).data;
        return list.length === 1 && list;
      });
      const m = ok(await s.call('messages/get', { id: row.id })).data;
      assert.equal(m.status, 'sent');
      assert.equal(m.attempts, 1);
      assert.deepEqual(m.history.map((h: { status: string }) => h.status), ['queued', 'sending', 'sent']);
      assert.match(m.history[2].detail, /^accepted by SMTP: 250/);
      assert.equal(m.subject, 'Your order');
      assert.match(m.body, /<li>x<\/li>/);
      assert.deepEqual(m.attachments, [{ name: 'receipt.txt', mime: 'text/plain', size: 6, sha256: createHash('sha256').update('HELLO\n').digest('hex') }]);
      assert.deepEqual(m.custom_data, { order: 'A-17' });
      assert.ok(Date.parse(m.sent) >= Date.parse(m.created));
      const log = ok(await s.call('campaigns/log_v2', { id: shop.campaigns.email, limit: 50 })).data;
      assert.ok(log.some((e: { message: string }) => e.message === `launch ${r.launch} (start): 1 queued`));

      const page1 = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 2 }));
      assert.equal(page1.data.length, 2);
      const page2 = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 2, cursor: page1.next_cursor }));
      assert.ok(page2.data[0].id < page1.data[1].id, 'pages go on to older messages');
      const byProfile = ok(await s.call('messages/list', { profile_id: shop.profiles.bob, limit: 1000 })).data;
      assert.ok(byProfile.every((x: { profile_id: string }) => x.profile_id === shop.profiles.bob));
    });
  });
}
