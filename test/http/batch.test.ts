/** import_and_start (with and without timeout), start_batch, import_and_start_batch, and tasks across a restart. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, type TestServer } from '../helpers.ts';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

describe('batch and import launches', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  /** How far delivery's clock is ahead of the real one: a test moves it on instead of waiting. */
  let ahead = 0;

  before(async () => {
    ({ s, smtp, shop } = await startShop({ clock: () => Date.now() + ahead }));
  });
  after(() => stopShop(s, smtp));

  const subFor = (email: string) => [{ resource_id: shop.resource, channel: 'email', email }];
  const mailsTo = (prefix: string) => smtp.received.filter((m) => m.to[0].startsWith(prefix));

  it('import_and_start imports the profile and sends to it at once', async () => {
    const r = await s.call('campaigns/triggers/import_and_start', {
      trigger_id: shop.campaigns.email, email: 'Fresh@Example.com', content: { email_title: 'Welcome' }, custom_data: { source: 'signup' },
      data: { _fname: 'Fresh', Segment: 'new', subscriptions: subFor('fresh@example.com') },
    });
    const body = ok(r);
    assert.match(body.profile_id, /^[0-9a-f]{24}$/);
    const profile = ok(await s.call('profiles/get', { db_id: shop.db, email: 'fresh@example.com' })).data;
    assert.deepEqual([profile._id, profile._fname, profile.Segment], [body.profile_id, 'Fresh', 'new']);
    const mail = await eventually(async () => mailsTo('fresh@').find((m) => m.mail.subject === 'Welcome'));
    assert.match(mail.mail.html as string, /Hi Fresh!/);
    const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
    assert.deepEqual(ok(await s.call('messages/get', { id: m.id })).data.custom_data, { source: 'signup' });
  });

  it('commits import and launch together or not at all', async () => {
    const inactive = await s.call('campaigns/triggers/import_and_start', { trigger_id: shop.campaigns.inactive, email: 'never@example.com', data: { _fname: 'Never' } });
    assert.equal(inactive.status, 400);
    assert.equal((await s.call('profiles/get', { db_id: shop.db, email: 'never@example.com' })).status, 404, 'no profile without its launch');
    const before = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 1000 })).data.length;
    const invalid = await s.call('campaigns/triggers/import_and_start', { trigger_id: shop.campaigns.email, email: 'bad@example.com', data: { CRM_ID: 'not a number' } });
    assert.deepEqual([invalid.status, invalid.body.error_text], [400, "field 'CRM_ID' must be an integer"]);
    assert.equal(ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 1000 })).data.length, before, 'no launch without its import');
    const otherDb = await s.call('campaigns/triggers/import_and_start', { trigger_id: shop.campaigns.email, db_id: 999, email: 'x@example.com', data: {} });
    assert.equal(otherDb.status, 400);
    assert.match(otherDb.body.error_text, /db_id 999 is not the database of campaign/);
  });

  it('holds an import_and_start message for its timeout, across a restart', async () => {
    const r = await s.call('campaigns/triggers/import_and_start', {
      trigger_id: shop.campaigns.email, email: 'later@example.com', timeout: { hours: 1, minutes: 30 }, content: { email_title: 'Later' },
      data: { _fname: 'Later', subscriptions: subFor('later@example.com') },
    });
    ok(r);
    const launch = Number(r.headers.get('launch-id'));
    const [queued] = ok(await s.call('messages/list', { launch_id: launch })).data;
    assert.equal(queued.status, 'waiting');
    const due = Date.parse(queued.next_attempt);
    assert.ok(Math.abs(due - (Date.now() + 90 * 60_000)) < 10_000, queued.next_attempt);

    s = await s.restart();
    const [after] = ok(await s.call('messages/list', { launch_id: launch })).data;
    assert.deepEqual([after.status, after.next_attempt], ['waiting', queued.next_attempt]);
    assert.equal(mailsTo('later@').length, 0);
    // The hour and a half passes: the message falls due.
    ahead = 91 * 60_000;
    await eventually(async () => mailsTo('later@').length === 1, 10_000, 'the delayed mail');
  });

  it('start_batch sends to 1,000 items, reporting the bad ones in place', async () => {
    const data = ok(
      await s.call('profiles/import_batch', { db_id: shop.db, data: Array.from({ length: 990 }, (_, i) => ({ email: `bulk${i}@example.com`, subscriptions: subFor(`bulk${i}@example.com`) })) }),
    ).data;
    assert.ok(data.every((d: { profile_id?: string }) => d.profile_id));
    const items: Record<string, unknown>[] = Array.from({ length: 990 }, (_, i) => ({ email: `bulk${i}@example.com`, ...(i === 7 ? { custom_data: { vip: true } } : {}) }));
    for (let i = 0; i < 10; i++) items.splice(i * 100, 0, i % 2 ? { email: `missing${i}@example.com` } : { email: 'not-an-email' });
    const r = await s.call('campaigns/triggers/start_batch', { trigger_id: shop.campaigns.email, matching: 'email', data: items, content: { email_title: 'Bulk' }, custom_data: { campaign: 'bulk' } });
    const body = ok(r);
    assert.equal(body.data.length, 1000);
    assert.equal(body.result.length, 990);
    const errors = body.data.map((d: { error?: number }, i: number) => [i, d.error]).filter(([, e]: [number, number | undefined]) => e);
    assert.deepEqual(errors.map(([i]: [number]) => i), Array.from({ length: 10 }, (_, i) => i * 100));
    assert.equal(body.data[0].error_text, "data[0]: field 'email' is not a valid email: 'not-an-email'");
    assert.equal(body.data[100].error_text, `data[100]: no profile found for email missing1@example.com in database ${shop.db}`);
    await eventually(async () => mailsTo('bulk').filter((m) => m.mail.subject === 'Bulk').length === 990, 30_000, '990 mails');
    const seven = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')), profile_id: body.data[8].profile_id })).data[0];
    assert.deepEqual(ok(await s.call('messages/get', { id: seven.id })).data.custom_data, { vip: true });
  });

  it('import_and_start_batch imports every good item and launches it', async () => {
    const r = ok(
      await s.call('campaigns/triggers/import_and_start_batch', {
        trigger_id: shop.campaigns.email, content: { email_title: 'Imported' },
        data: [
          { data: { email: 'ib1@example.com', _fname: 'One', subscriptions: subFor('ib1@example.com') } },
          { data: { email: 'ib2@example.com', CRM_ID: 'x' } },
          { data: { email: 'ib3@example.com', _fname: 'Three' } },
        ],
      }),
    );
    assert.equal(r.data[1].error_text, "data[1]: field 'CRM_ID' must be an integer");
    assert.deepEqual([r.data[0].status, r.data[2].status, r.data[2].skip_reason], ['queued', 'skipped', 'no_subscription']);
    assert.deepEqual(r.result, [r.data[0].profile_id]);
    assert.equal((await s.call('profiles/get', { db_id: shop.db, email: 'ib3@example.com' })).status, 200);
    assert.equal((await s.call('profiles/get', { db_id: shop.db, email: 'ib2@example.com' })).status, 404);
    await eventually(async () => mailsTo('ib1@').length === 1);
  });

  it('runs a task in the background and finishes it across a restart', async () => {
    const items = Array.from({ length: 4000 }, (_, i) => ({ data: { email: `task${i}@example.com`, subscriptions: subFor(`task${i}@example.com`) } }));
    items[123] = { data: { email: 'broken' } } as never;
    const r = ok(await s.call('campaigns/triggers/import_and_start_batch_task', { trigger_id: shop.campaigns.email, data: items, content: { email_title: 'Task' } }));
    const taskId = r.data.task_id;
    assert.ok(taskId > 0);
    const midway = await eventually(async () => {
      const t = ok(await s.call('tasks/get', { task_id: taskId })).data;
      return t.counts.processed > 0 && t;
    }, 30_000, 'the task to start');
    s = await s.restart(); // stops after the chunk in progress; the new server resumes
    assert.ok(midway.counts.processed < 4000, `restarted while running (${midway.counts.processed} processed)`);
    const done = await eventually(async () => {
      const t = ok(await s.call('tasks/get', { task_id: taskId })).data;
      return t.state === 'done' && t;
    }, 60_000, 'the task to finish');
    assert.deepEqual(done.counts, { total: 4000, processed: 4000, sent: 3999, skipped: 0, failed: 1 });
    assert.deepEqual(done.errors, [{ index: 123, error: 400, error_text: "data[123]: field 'data.email' is not a valid email: 'broken'" }]);
    const messages = ok(await s.call('messages/list', { launch_id: done.launch_id, limit: 1000 }));
    assert.equal(messages.data.length, 1000);
    const all = await s.app.store.countMessagesByStatus(done.launch_id);
    assert.equal(Object.values(all).reduce((a, b) => a + b, 0), 3999, 'one message per imported profile, none twice');
    await eventually(async () => mailsTo('task').length === 3999, 60_000, '3999 mails');
    const unknown = await s.call('tasks/get', { task_id: 999999 });
    assert.equal(unknown.status, 404);
  });
});
