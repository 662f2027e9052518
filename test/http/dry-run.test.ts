/**
 * dry_run on the trigger calls: everything runs and nothing is stored or sent. A 100k-profile
 * custom_request is counted and previewed with every table's row count unchanged and no mail at the
 * SMTP sink; on a small shop, each call's dry answer matches what the real call then does.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { createWorld, dropWorld, withSearchPath, type World } from '../../bench/lib/world.ts';
import { eventually, ok, PG_URL, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { addProfile, type Shop, shopCampaign, startShop, stopShop } from '../fixture.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const N = 100_000;

/** Rows of every table of the world's store, read beside the server through a connection of its own. */
async function rowCounts(w: World): Promise<Record<string, number>> {
  if (w.kind === 'sqlite') {
    const db = new Database(path.join(w.dataDir, 'salvo.db'), { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
      return Object.fromEntries(tables.map((t) => [t.name, (db.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`).get() as { n: number }).n]));
    } finally {
      db.close();
    }
  }
  const sql = postgres(withSearchPath(w.pgUrl!, w.schema!), { onnotice: () => {}, max: 1 });
  try {
    const tables = await sql<{ table_name: string }[]>`SELECT table_name FROM information_schema.tables WHERE table_schema = ${w.schema!} ORDER BY table_name`;
    const out: Record<string, number> = {};
    for (const t of tables) out[t.table_name] = Number((await sql.unsafe(`SELECT COUNT(*) AS n FROM "${t.table_name}"`))[0].n);
    return out;
  } finally {
    await sql.end();
  }
}

for (const kind of STORE_KINDS) {
  describe(`dry_run over a ${N.toLocaleString('en')}-profile custom_request (${kind})`, () => {
    let w: World;
    let s: TestServer;
    let smtp: TestSmtp;

    before(async () => {
      w = await createWorld(kind, N, kind === 'postgres' ? PG_URL : null);
      smtp = await startSmtp();
      s = await startServer({ workers: true, env: { ...w.env, SALVO_SMTP_URL: smtp.url, SALVO_DRY_RUN_SECONDS: '600' } });
    });
    after(async () => {
      await s.close();
      await smtp.close();
      await dropWorld(w);
      rmSync(w.dataDir, { recursive: true, force: true });
    });

    it('counts the whole audience, previews 10 rendered messages, and stores and sends nothing', async () => {
      const before = await rowCounts(w);
      assert.ok(before.profiles >= N && before.subscriptions >= N, 'the world is seeded');
      // Group is not indexed: the whole database is read, page by page.
      const body = { id: w.campaignId, custom_request: { Group: { $gte: 0 } }, content: { title: 'Sale' }, dry_run: true };
      const res = await s.call('campaigns/triggers/start', body);
      const r = ok(res);
      assert.equal(r.data.audience, N);
      assert.equal(r.data.queued, N);
      assert.equal(r.data.skipped, 0);
      assert.deepEqual(r.data.skip_reasons, {});
      assert.deepEqual(r.data.errors, []);
      assert.equal(r.data.complete, true);
      assert.equal(r.data.filtered, false);
      assert.equal(r.data.preview.length, 10);
      for (const p of r.data.preview) {
        const i = Number(/^u(\d+)@bench\.example$/.exec(p.address)![1]);
        assert.equal(p.channel, 'email');
        assert.equal(p.subject, `News for User${i}`);
        assert.match(p.html, /<h1>Sale<\/h1><p>Hello User\d+,<\/p>/);
        assert.equal(p.text, `Hello User${i}`);
        assert.match(p.profile_id, /^[0-9a-f]{24}$/);
        assert.equal(p.variant, 0);
      }
      assert.equal(res.headers.get('launch-id'), null, 'no launch');

      // A repeat is run again (a dry run is not deduplicated) and answers the same.
      const again = ok(await s.call('campaigns/triggers/start', body));
      assert.equal(again.data.audience, N);

      assert.deepEqual(await rowCounts(w), before, 'every table has the rows it had');

      // The workers are running: a real launch's mail arrives, and it is the only one.
      const real = ok(await s.call('campaigns/triggers/start', { id: w.campaignId, email: 'u7@bench.example', content: { title: 'Real' } }));
      assert.equal(real.error, 0);
      const [mail] = await smtp.waitFor(1);
      assert.deepEqual(mail.to, ['u7@bench.example']);
      await eventually(async () => (await s.call('messages/list', { campaign_id: w.campaignId })).body.data.every((m: { status: string }) => m.status === 'sent'));
      assert.equal(smtp.received.length, 1, 'no mail but the real launch');
    });

    it('answers what it counted with complete: false when SALVO_DRY_RUN_SECONDS runs out', async () => {
      const quick = await startServer({ env: { ...w.env, SALVO_DRY_RUN_SECONDS: '0' } });
      try {
        const r = ok(await quick.call('campaigns/triggers/start', { id: w.campaignId, custom_request: { Group: { $gte: 0 } }, dry_run: true }));
        assert.equal(r.data.complete, false);
        assert.ok(r.data.audience > 0 && r.data.audience < N, `counted ${r.data.audience} of ${N}`);
        assert.equal(r.data.preview.length, 10);
      } finally {
        await quick.app.close();
      }
    });
  });
}

describe('dry_run answers what the real call then does', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;

  before(async () => {
    ({ s, smtp, shop } = await startShop({ workers: false }));
    const sub = (email: string, status: string) => [{ resource_id: shop.resource, channel: 'email', email, status }];
    await addProfile(s, shop.db, { email: 'una@example.com', _fname: 'Una', subscriptions: sub('una@example.com', 'unsubscribed') });
    await addProfile(s, shop.db, { email: 'nosub@example.com', _fname: 'Nobody' });
    await addProfile(s, shop.db, { email: 'susp@example.com', _fname: 'Sus', _status: 'suspended', subscriptions: sub('susp@example.com', 'subscribed') });
  });
  after(() => stopShop(s, smtp));

  const dryThenReal = async (method: string, body: Record<string, unknown>) => {
    const dry = ok(await s.call(method, { ...body, dry_run: true })).data;
    const real = await s.call(method, body);
    return { dry, real };
  };

  it('start_batch: the same queued and skipped profiles, by reason, and item errors in place', async () => {
    const campaign = await shopCampaign(s, shop, 'dry batch');
    const data = [
      { email: 'john@example.com' },
      { email: 'ann@example.com' },
      { email: 'una@example.com' },
      { email: 'nosub@example.com' },
      { email: 'susp@example.com' },
      { email: 'nobody@example.com' },
    ];
    const { dry, real } = await dryThenReal('campaigns/triggers/start_batch', { id: campaign, data, content: { email_title: 'T', data_lines: ['a'] } });
    const results = ok(real).data as { status?: string; skip_reason?: string; error?: number; error_text?: string }[];
    const reasons: Record<string, number> = {};
    for (const r of results) if (r.status === 'skipped') reasons[r.skip_reason!] = (reasons[r.skip_reason!] ?? 0) + 1;
    assert.deepEqual(dry.skip_reasons, reasons);
    assert.deepEqual(reasons, { unsubscribed: 1, no_subscription: 1, profile_suspended: 1 });
    assert.equal(dry.queued, results.filter((r) => r.status === 'queued').length);
    assert.equal(dry.queued, 2);
    assert.equal(dry.audience, 5);
    assert.deepEqual(dry.errors, [{ index: 5, error: 404, error_text: results[5].error_text }]);
    assert.deepEqual(dry.preview.map((p: { address: string }) => p.address), ['john@example.com', 'ann@example.com']);
    assert.equal(dry.preview[0].subject, 'T');
    assert.equal(dry.preview[0].html, '<p>Hi John!</p><ul><li>a</li></ul>');

    // The _task form answers a dry run at once rather than a task id.
    const task = ok(await s.call('campaigns/triggers/start_batch_task', { id: campaign, data, dry_run: true })).data;
    assert.equal(task.task_id, undefined);
    assert.deepEqual(task.skip_reasons, reasons);
  });

  it('start: one profile, and a custom_request over the shop', async () => {
    const campaign = await shopCampaign(s, shop, 'dry start');
    const una = await dryThenReal('campaigns/triggers/start', { id: campaign, email: 'una@example.com' });
    assert.deepEqual(una.dry, { audience: 1, queued: 0, skipped: 1, skip_reasons: { unsubscribed: 1 }, preview: [], errors: [], warnings: [], filtered: false, complete: true });
    const m = ok(await s.call('messages/list', { launch_id: Number(una.real.headers.get('launch-id')) })).data;
    assert.deepEqual(m.map((x: { status: string; skip_reason: string }) => [x.status, x.skip_reason]), [['skipped', 'unsubscribed']]);

    const all = await dryThenReal('campaigns/triggers/start', { id: campaign, custom_request: { email: { $regex: '@example\\.com$' } }, content: { email_title: 'All' } });
    const launch = Number(all.real.headers.get('launch-id'));
    const rows = ok(await s.call('messages/list', { launch_id: launch })).data as { status: string; skip_reason: string | null }[];
    const reasons: Record<string, number> = {};
    for (const r of rows) if (r.skip_reason) reasons[r.skip_reason] = (reasons[r.skip_reason] ?? 0) + 1;
    assert.equal(all.dry.audience, rows.length);
    assert.equal(all.dry.queued, rows.filter((r) => r.status === 'queued').length);
    assert.deepEqual(all.dry.skip_reasons, reasons);

    // What the real call refuses, the dry run refuses the same way.
    const dryNone = await s.call('campaigns/triggers/start', { id: campaign, email: 'nobody@example.com', dry_run: true });
    const realNone = await s.call('campaigns/triggers/start', { id: campaign, email: 'nobody@example.com' });
    assert.equal(realNone.status, 404);
    assert.equal(dryNone.status, 404);
    assert.equal(dryNone.body.error_text, realNone.body.error_text);

    // A content_filter that does not match: nothing would be sent.
    const filtered = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.filtered, email: 'john@example.com', content: { kind: 'text' }, dry_run: true })).data;
    assert.equal(filtered.filtered, true);
    assert.equal(filtered.queued, 0);
  });

  it('import_and_start: a new profile is previewed without an id and not created; an existing one by its id', async () => {
    const campaign = await shopCampaign(s, shop, 'dry import');
    const body = {
      id: campaign,
      email: 'newbie@example.com',
      data: { _fname: 'Newbie', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'newbie@example.com' }] },
      content: { email_title: 'Welcome', data_lines: [] },
    };
    const dry = ok(await s.call('campaigns/triggers/import_and_start', { ...body, dry_run: true })).data;
    assert.equal(dry.queued, 1);
    assert.equal(dry.preview[0].profile_id, null);
    assert.equal(dry.preview[0].address, 'newbie@example.com');
    assert.equal(dry.preview[0].html, '<p>Hi Newbie!</p><ul></ul>');
    assert.equal((await s.call('profiles/get', { db_id: shop.db, email: 'newbie@example.com' })).status, 404, 'the dry run created no profile');

    const real = ok(await s.call('campaigns/triggers/import_and_start', body)).data;
    const again = ok(await s.call('campaigns/triggers/import_and_start', { ...body, dry_run: true })).data;
    assert.equal(again.preview[0].profile_id, real.profile_id);

    // An import that would unsubscribe the profile: the dry run sees the imported status.
    const unsub = ok(
      await s.call('campaigns/triggers/import_and_start_batch', {
        id: campaign,
        dry_run: true,
        data: [{ data: { email: 'bob@example.com', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'bob@example.com', status: 'unsubscribed' }] } }],
      }),
    ).data;
    assert.deepEqual(unsub.skip_reasons, { unsubscribed: 1 });
    const bob = ok(await s.call('profiles/get', { db_id: shop.db, email: 'bob@example.com' })).data;
    assert.equal(bob.subscriptions[0].status, 'subscribed', 'the dry import wrote nothing');
  });

  it('is not deduplicated: a dry run with a real call’s Request-ID runs, and the real call’s repeat still gets the first answer', async () => {
    const campaign = await shopCampaign(s, shop, 'dry dedup');
    const headers = { 'Request-ID': 'dry-dedup-1' };
    const real = await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com' }, { headers });
    ok(real);
    const dry = await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com', dry_run: true }, { headers });
    assert.equal(dry.headers.get('duplicate-request'), null);
    assert.equal(dry.body.data.queued, 1);
    const repeat = await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com' }, { headers });
    assert.equal(repeat.headers.get('duplicate-request'), 'true');
    assert.equal(repeat.headers.get('launch-id'), real.headers.get('launch-id'));
  });
});
