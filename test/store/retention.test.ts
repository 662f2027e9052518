/**
 * The retention purge (engine/retention.ts, store/queries/retention.ts): each SALVO_RETAIN_* removes what it
 * names and only that, never a message still to be sent nor a webhook delivery still to be posted; and
 * under a fan-out with a 1 s retention, the purge makes progress while /health keeps answering quickly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig, type Retention } from '../../src/config.ts';
import { Purger } from '../../src/engine/retention.ts';
import { createLog } from '../../src/log.ts';
import { fileHash, ORPHAN_GRACE_MS } from '../../src/store/queries/attachment-files.ts';
import { driverOf, type Store } from '../../src/store/store.ts';
import { addCampaign } from '../fixture.ts';
import { eventually, ok, openTestStore, startServer, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedCampaign } from './seed.ts';
import { assertTiming } from '../timing.ts';

test('retention settings: finite defaults, durations in s, m, h, d, anything else refused naming the setting', () => {
  const day = 86_400_000;
  assert.deepEqual(loadConfig({}).retention, { bodiesMs: 30 * day, messagesMs: 400 * day, outboxMs: 7 * day, webhookDeliveriesMs: 30 * day, launchesMs: 400 * day });
  assert.deepEqual(loadConfig({ SALVO_RETAIN_BODIES: '10s', SALVO_RETAIN_OUTBOX: '15m', SALVO_RETAIN_MESSAGES: '12h' }).retention.bodiesMs, 10_000);
  assert.equal(loadConfig({ SALVO_RETAIN_MESSAGES: '12h' }).retention.messagesMs, 12 * 3_600_000);
  for (const bad of ['0s', '30', 'forever', '1.5d', '3651d', '-1d']) {
    assert.throws(() => loadConfig({ SALVO_RETAIN_LAUNCHES: bad }), (e: unknown) => e instanceof ConfigError && e.setting === 'SALVO_RETAIN_LAUNCHES', bad);
  }
});

const NOW = 1_900_000_000_000;
/** Rows "old" are 10 s old; a retention of 5 s removes them and keeps the new ones. */
const OLD = NOW - 10_000;
const KEEP_ALL = 3650 * 86_400_000;
const keep = (o: Partial<Retention>): Retention => ({ bodiesMs: KEEP_ALL, messagesMs: KEEP_ALL, outboxMs: KEEP_ALL, webhookDeliveriesMs: KEEP_ALL, launchesMs: KEEP_ALL, ...o });
const purger = (store: Store, retention: Retention) => new Purger({ store, retention, log: createLog('silent'), clock: () => NOW });

const message = (campaign: number, profile: string) => ({
  campaign_id: campaign, profile_id: profile, subscription_id: null, channel: 'email' as const, address: `${profile}@example.com`, status: 'queued' as const,
  skip_reason: null, priority: 0, next_attempt_at: OLD, overrides: null, custom_data: null, variant: null, template_id: null,
});

/** What the store holds, in short, for the assertions. */
async function snapshot(store: Store) {
  const db = driverOf(store);
  const rows = <T>(sql: string) => db.all<T>(sql);
  return {
    // `+copy`: the message still has its copy of what was sent (sent_copy), emptied with the body.
    messages: (await rows<{ profile_id: string; body: string | null; sent_copy: string | null }>('SELECT profile_id, body, sent_copy FROM messages ORDER BY profile_id')).map(
      (m) => `${m.profile_id}:${m.body ?? '-'}${m.sent_copy === null ? '' : '+copy'}`,
    ),
    smsParts: (await rows<{ n: number }>('SELECT COUNT(*) AS n FROM sms_parts'))[0].n,
    outbox: (await rows<{ recipient: string }>('SELECT recipient FROM outbox ORDER BY recipient')).map((r) => r.recipient),
    webhookEvents: (await rows<{ event_id: string }>('SELECT event_id FROM webhook_events ORDER BY event_id')).map((r) => r.event_id),
    launches: (await rows<{ id: number }>('SELECT id FROM launches ORDER BY id')).map((r) => Number(r.id)),
    attachments: Number((await rows<{ n: number }>('SELECT COUNT(*) AS n FROM launch_attachments'))[0].n),
    files: Number((await rows<{ n: number }>('SELECT (SELECT COUNT(*) FROM attachment_files) + (SELECT COUNT(*) FROM attachment_chunks) AS n'))[0].n),
    log: (await rows<{ message: string }>('SELECT message FROM campaign_log ORDER BY message')).map((r) => r.message),
    campaigns: (await rows<{ id: number }>('SELECT id FROM campaigns ORDER BY id')).map((r) => Number(r.id)),
  };
}

for (const kind of STORE_KINDS) {
  describe(`retention purge (${kind})`, () => {
    let t: TestStore;
    let launches: { busy: number; empty: number; ofDeleted: number };
    let campaigns: { live: number; deleted: number };
    before(async () => {
      t = await openTestStore(kind);
      const { store } = t;
      const db = driverOf(store);
      const live = (await seedCampaign(store, OLD)).campaign;
      const deleted = (await store.insertCampaign({ ...(await store.getCampaign(live))!, name: 'gone', link_key: 'k2' }, OLD)).id;
      campaigns = { live, deleted };
      const launch = (campaign: number) => store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, OLD);
      launches = { busy: (await launch(live)).id, empty: (await launch(live)).id, ofDeleted: (await launch(deleted)).id };
      const file = { name: 'a.txt', mime: 'text/plain', data: Buffer.from('a'), sha256: fileHash({ data: Buffer.from('a'), sha256: null }) };
      // Last used longer ago than ORPHAN_GRACE_MS: it goes as soon as no launch names it.
      await store.storeAttachmentFile(file.sha256, file.data, NOW - 2 * ORPHAN_GRACE_MS);
      await store.insertAttachments(launches.empty, [file], NOW - 2 * ORPHAN_GRACE_MS);
      await store.markCampaignDeleted(deleted, OLD);

      // Old: sent (with its text and SMS parts), queued, waiting, sending. New: sent, with its text.
      await store.insertMessages(launches.busy, ['old-sent', 'old-queued', 'old-waiting', 'old-sending'].map((p) => message(live, p)), OLD);
      await store.insertMessages(launches.busy, [message(live, 'new-sent')], NOW);
      for (const [profile, status] of [['old-sent', 'sent'], ['old-waiting', 'waiting'], ['old-sending', 'sending'], ['new-sent', 'sent']]) {
        const copy = JSON.stringify({ channel: 'email', from: 'shop@example.com', to: `${profile}@example.com`, text: `text of ${profile}` });
        await db.run('UPDATE messages SET status = ?, subject = ?, body = ?, sent_copy = ? WHERE profile_id = ?', [status, 'subject', `body of ${profile}`, copy, profile]);
      }
      const oldSent = await db.get<{ id: number }>("SELECT id FROM messages WHERE profile_id = 'old-sent'");
      await db.run("INSERT INTO sms_parts (provider_message_id, message_id, part, parts, state) VALUES ('p1', ?, 1, 2, NULL), ('p2', ?, 2, 2, NULL)", [oldSent!.id, oldSent!.id]);

      const capture = (recipient: string) => ({ message_id: 1, channel: 'email', recipient, sender: null, subject: null, body: null, html: null, extra: {}, raw: null });
      await store.insertOutboxEntries([capture('old@example.com')], OLD);
      await store.insertOutboxEntries([capture('new@example.com')], NOW);
      for (const [event, status, time] of [['old-delivered', 'delivered', OLD], ['old-failed', 'failed', OLD], ['old-queued', 'queued', OLD], ['old-sending', 'sending', OLD], ['new-delivered', 'delivered', NOW]] as const) {
        await db.run(
          `INSERT INTO webhook_events (webhook_id, event_id, type, launch_id, payload, status, attempts, history, next_attempt_at, created_at, updated_at)
           VALUES (1, ?, 'message.sent', NULL, '{}', ?, 0, '[]', ?, ?, ?)`,
          [event, status, time, time, time],
        );
      }
      await store.appendCampaignLog(live, 'info', 'old line', OLD);
      await store.appendCampaignLog(live, 'info', 'new line', NOW);
    });
    after(() => t?.close());

    test('bodies first: the text of old messages that are done is emptied, with their copy of what was sent; every row stays', async () => {
      const report = await purger(t.store, keep({ bodiesMs: 5000 })).pass();
      assert.deepEqual(report.rows, { bodies: 1 });
      const s = await snapshot(t.store);
      assert.deepEqual(s.messages, ['new-sent:body of new-sent+copy', 'old-queued:-', 'old-sending:body of old-sending+copy', 'old-sent:-', 'old-waiting:body of old-waiting+copy']);
      assert.equal(s.smsParts, 2);
      assert.equal(s.outbox.length, 2);
      assert.equal(s.webhookEvents.length, 5);
      assert.deepEqual(s.log, ['new line', 'old line']);
    });

    test('every kind at 5 s: what is old and finished goes, queued/waiting/sending and new rows stay', async () => {
      const report = await purger(t.store, keep({ bodiesMs: 5000, messagesMs: 5000, outboxMs: 5000, webhookDeliveriesMs: 5000, launchesMs: 5000 })).pass();
      // attachment_files: the empty launch's file, a chunk and its row, once no launch named it.
      assert.deepEqual(report.rows, { messages: 1, outbox: 1, webhook_deliveries: 2, launches: 2, campaign_log: 1, deleted_campaigns: 1, attachment_files: 2 });
      const s = await snapshot(t.store);
      assert.deepEqual(s.messages, ['new-sent:body of new-sent+copy', 'old-queued:-', 'old-sending:body of old-sending+copy', 'old-waiting:body of old-waiting+copy']);
      assert.equal(s.smsParts, 0, "the purged message's SMS parts went with it");
      assert.deepEqual(s.outbox, ['new@example.com']);
      assert.deepEqual(s.webhookEvents, ['new-delivered', 'old-queued', 'old-sending']);
      assert.deepEqual(s.launches, [launches.busy], 'the launch with messages left stays; the empty one and the deleted campaign’s go');
      assert.equal(s.attachments, 0);
      assert.equal(s.files, 0, 'the file only the purged launch named went after it');
      assert.deepEqual(s.campaigns, [campaigns.live], "the deleted campaign's tombstone went with its last launch");
      assert.deepEqual(s.log, ['new line']);
      assert.deepEqual((await purger(t.store, keep({ messagesMs: 5000, launchesMs: 5000 })).pass()).rows, {}, 'a second pass finds nothing');
    });

    if (kind === 'postgres') {
      test('two processes purging one store take turns: one finding the turn held leaves the pass to the other', async () => {
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        let tookTurn!: (got: boolean) => void;
        const took = new Promise<boolean>((r) => (tookTurn = r));
        const other = t.store.transaction(async (tx) => {
          tookTurn(await tx.takePurgeTurn());
          await released;
        });
        assert.equal(await took, true);
        assert.equal((await purger(t.store, keep({ outboxMs: 1000 })).pass()).busy, true);
        release();
        await other;
        assert.equal((await purger(t.store, keep({ outboxMs: 1000 })).pass()).busy, false);
      });
    }
  });
}

const FAN_OUT = 3000;

for (const kind of STORE_KINDS) {
  describe(`retention under a fan-out (${kind})`, () => {
    test(`${FAN_OUT} profiles to the outbox with every retention at 1 s: /health stays answering (200 ms target, printed), the purge makes progress`, async () => {
      const second = { SALVO_RETAIN_BODIES: '1s', SALVO_RETAIN_MESSAGES: '1s', SALVO_RETAIN_OUTBOX: '1s', SALVO_RETAIN_WEBHOOK_DELIVERIES: '1s', SALVO_RETAIN_LAUNCHES: '1s' };
      const s = await startServer({ kind, workers: true, env: second });
      let polling = true;
      const healthMs: number[] = [];
      try {
        const db = ok(await s.call('databases/add', { name: 'fan', fields: [{ name: 'Group', type: 'int' }] })).data.id;
        const resource = ok(await s.call('resources/add', { name: 'Fan', channels: ['email'], email: { from_email: 'fan@example.com' } })).data.id;
        const campaign = await addCampaign(s, { name: 'Fan', db, resource, email: { subject: 'Hi {lead.email}', text: 'Text for {lead.email}' } });
        for (let k = 0; k < FAN_OUT / 1000; k++) {
          const data = Array.from({ length: 1000 }, (_, i) => {
            const email = `fan${k}-${i}@example.com`;
            return { email, Group: 1, subscriptions: [{ resource_id: resource, channel: 'email', email }] };
          });
          ok(await s.call('profiles/import_batch', { db_id: db, data }));
        }
        // The request runs the first pages of the expansion itself; from its answer on, the rest of the fan-out
        // (background expansion, delivery to the outbox) runs beside the purge.
        ok(await s.call('campaigns/triggers/start', { id: campaign, custom_request: { Group: 1 } }));
        const poll = (async () => {
          while (polling) {
            const started = performance.now();
            const res = await fetch(`${s.url}/health`);
            await res.arrayBuffer();
            healthMs.push(performance.now() - started);
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        const purged = async (what: string) => {
          const metric = await s.app.metrics.registry.getSingleMetric('salvo_purged_rows_total')!.get();
          return metric.values.find((v) => v.labels.kind === what)?.value ?? 0;
        };
        // Every message sent, a second old, purged: the whole fan-out went through the purge.
        // Every message sent, a second old, purged, and every outbox capture: the whole fan-out went through the purge.
        await eventually(async () => (await purged('messages')) >= FAN_OUT && (await purged('outbox')) >= FAN_OUT, 90_000, 'every message and capture purged');
        polling = false;
        await poll;
        const max = Math.max(...healthMs);
        const { batches, slowestBatchMs } = s.app.purger.stats;
        console.log(
          `${kind}: ${healthMs.length} /health answers during the fan-out and purge, max ${max.toFixed(1)} ms; ` +
            `${batches} purge batches, slowest ${slowestBatchMs.toFixed(1)} ms; purged messages ${await purged('messages')}, bodies ${await purged('bodies')}, outbox ${await purged('outbox')}`,
        );
        // The target is 200 ms (measured here idle: 76-175 ms, printed above); the bound leaves the margin a loaded
        // 2-core CI needs, where the fan-out alone, purge off, reached 307 ms. A purge that blocked would show as seconds.
        assertTiming(`${kind}: slowest /health during the fan-out and purge`, max, { targetMs: 200, boundMs: 1000 });
        const scrape = await (await fetch(`${s.url}/metrics`)).text();
        assert.match(scrape, new RegExp(`salvo_purged_rows_total\\{kind="messages"\\} ${await purged('messages')}`));
        const bytes = Number(/^salvo_store_bytes (\d+)/m.exec(scrape)?.[1]);
        assert.ok(bytes > 100_000, `salvo_store_bytes ${bytes}`);
        // SQLite's lock budget: no purge batch held the write lock (and the event loop) for 50 ms. On PostgreSQL a
        // batch's time includes round trips and row locks, and holds up no one else (printed, not asserted).
        // The budget is 50 ms (batches shrink past 25 ms; measured 17-42 ms); the bound leaves a loaded CI its margin.
        if (kind === 'sqlite') assertTiming('slowest purge batch (SQLite write lock)', slowestBatchMs, { targetMs: 50, boundMs: 250 });
      } finally {
        polling = false;
        await s.close();
      }
    });
  });
}
