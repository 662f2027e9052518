/**
 * A/B content: a campaign's content holds weighted variants; each recipient gets one, chosen when its
 * message is made (per campaign and profile), recorded on the message, counted by campaigns/stats, and
 * sent with that variant's template and overrides.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createWorld, dropWorld, type World } from '../../bench/lib/world.ts';
import { ok, PG_URL, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { type Shop, shopCampaign, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

const N = 10_000;

type Msg = { id: number; profile_id: string; variant: number; template_id: number; status: string };

/** Every message of a launch, page by page. */
async function launchMessages(s: TestServer, launch: number): Promise<Msg[]> {
  const out: Msg[] = [];
  let cursor: number | undefined;
  do {
    const r = ok(await s.call('messages/list', { launch_id: launch, limit: 1000, ...(cursor ? { cursor } : {}) }));
    out.push(...r.data);
    cursor = r.next_cursor;
  } while (cursor);
  return out;
}

for (const kind of STORE_KINDS) {
  describe(`A/B content over ${N.toLocaleString('en')} recipients (${kind})`, () => {
    let w: World;
    let s: TestServer;
    let a: number;
    let b: number;

    before(async () => {
      w = await createWorld(kind, N, kind === 'postgres' ? PG_URL : null);
      s = await startServer({ env: w.env });
      a = ok(await s.call('campaigns/triggers/get', { id: w.campaignId })).data.content[0].message_id;
      b = ok(await s.call('templates/add', { name: 'B', channels: [{ sid: 'email', fields: { subject: 'B for {lead._fname}', text: 'B' } }] })).data.id;
      ok(await s.call('campaigns/triggers/update', { id: w.campaignId, content: [{ message_id: a, weight: 70 }, { message_id: b, weight: 30 }] }));
    });
    after(async () => {
      await s.close();
      await dropWorld(w);
      rmSync(w.dataDir, { recursive: true, force: true });
    });

    it('splits 70/30 within ±2 %, counts it in campaigns/stats, and gives each profile the same variant on a repeat launch', async () => {
      const data = Array.from({ length: N }, (_, i) => ({ email: w.email(i) }));
      const first = await s.call('campaigns/triggers/start_batch', { id: w.campaignId, data });
      ok(first);
      const launch = Number(first.headers.get('launch-id'));

      const stats = ok(await s.call('campaigns/stats', { id: w.campaignId, launch_id: launch })).data;
      assert.equal(stats.total, N);
      const [va, vb] = stats.variants;
      assert.deepEqual([va.variant, va.message_id, va.weight, vb.variant, vb.message_id, vb.weight], [0, a, 70, 1, b, 30]);
      assert.ok(Math.abs(va.total / N - 0.7) <= 0.02, `variant A got ${va.total} of ${N}`);
      assert.equal(va.total + vb.total, N);
      assert.deepEqual(va.statuses, { queued: va.total });

      const messages = await launchMessages(s, launch);
      assert.equal(messages.length, N);
      for (const m of messages) assert.equal(m.template_id, m.variant === 0 ? a : b);
      const detail = ok(await s.call('messages/get', { id: messages[0].id })).data;
      assert.equal(detail.variant, messages[0].variant);
      assert.equal(detail.template_id, messages[0].template_id);

      // A second launch to the same profiles: every profile gets the variant it got the first time.
      const second = await s.call('campaigns/triggers/start_batch', { id: w.campaignId, data, content: { round: 2 } });
      assert.notEqual(second.headers.get('launch-id'), first.headers.get('launch-id'));
      const again = new Map((await launchMessages(s, Number(second.headers.get('launch-id')))).map((m) => [m.profile_id, m.variant]));
      assert.equal(again.size, N);
      assert.equal(messages.filter((m) => again.get(m.profile_id) !== m.variant).length, 0);

      // The whole campaign: both launches.
      const all = ok(await s.call('campaigns/stats', { id: w.campaignId })).data;
      assert.equal(all.total, 2 * N);
      assert.equal(all.variants[0].total, 2 * va.total);

      // A dry run previews the variant the real launch chose.
      const dry = ok(await s.call('campaigns/triggers/start', { id: w.campaignId, custom_request: { Group: 3 }, dry_run: true })).data;
      const chosen = new Map(messages.map((m) => [m.profile_id, m.variant]));
      for (const p of dry.preview) {
        assert.equal(p.variant, chosen.get(p.profile_id));
        assert.match(p.subject, p.variant === 0 ? /^News for User\d+$/ : /^B for User\d+$/);
      }
    });
  });
}

describe('A/B content: checks and sending', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  before(async () => {
    ({ s, smtp, shop } = await startShop());
  });
  after(() => stopShop(s, smtp));

  it('refuses bad weights, too many variants, and a template without the channel', async () => {
    const add = (content: unknown[]) => s.call('campaigns/triggers/add', { name: `ab ${Math.random()}`, send_channel: 'email', resource_id: shop.resource, db_id: shop.db, content });
    const zero = await add([{ message_id: shop.template, weight: 0 }]);
    assert.equal(zero.status, 400);
    assert.equal(zero.body.error_text, 'content[0].weight must be a positive integer (at most 1000000)');
    const many = await add(Array.from({ length: 11 }, () => ({ message_id: shop.template })));
    assert.equal(many.status, 400);
    assert.match(many.body.error_text, /content/);
    const smsOnly = ok(await s.call('templates/add', { name: 'sms only', channels: [{ sid: 'sms', fields: { text: 'x' } }] })).data.id;
    const wrong = await add([{ message_id: shop.template }, { message_id: smsOnly }]);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error_text, `template ${smsOnly} has no 'email' channel`);
  });

  it("sends each message with its variant's template and overrides", async () => {
    const other = ok(await s.call('templates/add', { name: 'other', channels: [{ sid: 'email', fields: { subject: 'Other {lead._fname}', text: 'Other body' } }] })).data.id;
    const campaign = await shopCampaign(s, shop, 'ab send', {
      extra: { content: [{ message_id: shop.template, subject: 'First {lead._fname}' }, { message_id: other, from_name: 'Team B' }] },
    });
    // Twenty new profiles, imported and launched together: both variants are all but certain to be used.
    const people = Array.from({ length: 20 }, (_, i) => ({ email: `ab${i}@example.com`, _fname: `Ab${i}` }));
    const data = people.map((p) => ({ data: { ...p, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: p.email }] } }));
    const r = await s.call('campaigns/triggers/import_and_start_batch', { id: campaign, data });
    ok(r);
    const mails = await smtp.waitFor(20);
    const messages = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data as Msg[];
    assert.deepEqual([...new Set(messages.map((m) => m.variant))].sort(), [0, 1]);
    for (const m of messages) {
      const got = ok(await s.call('messages/get', { id: m.id })).data;
      const mail = mails.find((x) => x.to.includes(got.address))!;
      const name = people.find((p) => p.email === got.address)!._fname;
      if (m.variant === 0) assert.equal(mail.mail.subject, `First ${name}`);
      else {
        assert.equal(mail.mail.subject, `Other ${name}`);
        assert.match(mail.mail.from?.text ?? '', /Team B/);
      }
    }
  });
});
