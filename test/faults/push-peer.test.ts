/**
 * Push peers that misbehave: a push service that hangs past the send timeout or drops the connection,
 * an APNs endpoint that drops its HTTP/2 session mid-request. Each push is retried, delivered once,
 * and never lost; the process carries on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers.ts';
import { type PushShop, setupPushShop, vapidKeys } from '../push-fixture.ts';
import { type ApnsPeer, type PushService, startApns, startPushService } from '../push-peers.ts';

const SUBJECT = 'https://shop.example/contact';

describe('push peer faults', () => {
  let s: TestServer;
  let service: PushService;
  let apns: ApnsPeer;
  let shop: PushShop;
  const vapid = vapidKeys();

  before(async () => {
    [service, apns] = await Promise.all([startPushService(vapid.vapid_public_key, SUBJECT), startApns()]);
    s = await startServer({ workers: true, env: { SALVO_SEND_TIMEOUT_SECONDS: '1', SALVO_MAX_ATTEMPTS: '5' } });
    shop = await setupPushShop(s, { webpush: { ...vapid, subject: SUBJECT }, apns: apns.settings });
  });
  after(async () => {
    await s.close();
    await Promise.all([service.close(), apns.close()]);
  });

  for (const fault of ['hang', 'drop'] as const) {
    it(`retries a push the service ${fault === 'hang' ? 'never answers (past the timeout)' : 'drops the connection on'}, and delivers it once`, async () => {
      const id = `${fault}-1`;
      const b = service.browser(id);
      service.script.set(id, [fault, fault]);
      const email = await shop.person([{ provider: 'Chrome', subscription_id: b.endpoint, keys: b.keys }]);
      const m = await shop.settled(await shop.launch(email));
      assert.deepEqual([m.status, m.attempts], ['sent', 3], JSON.stringify(m.history));
      const waits = m.history.filter((h) => h.status === 'waiting').map((h) => h.detail!);
      if (fault === 'hang') for (const w of waits) assert.match(w, /^TIMEOUT: the push service at 127\.0\.0\.1:\d+ did not answer within 1000 ms; retry at /);
      else for (const w of waits) assert.match(w, /^\w+: the push service at 127\.0\.0\.1:\d+ did not answer: /);
      assert.equal(service.requests.get(id), 3);
      assert.equal(service.delivered.filter((d) => d.id === id).length, 1);
      assert.deepEqual(service.problems, []);
    });
  }

  it('retries an APNs push whose HTTP/2 session drops mid-request, on a new session', async () => {
    apns.script.set('dropped', [{ status: 0 }]);
    const email = await shop.person([{ provider: 'ios', subscription_id: 'dropped' }]);
    const m = await shop.settled(await shop.launch(email));
    assert.deepEqual([m.status, m.attempts], ['sent', 2], JSON.stringify(m.history));
    assert.equal(apns.delivered.filter((d) => d.token === 'dropped').length, 1);
    assert.match(m.history.find((h) => h.status === 'waiting')!.detail!, /APNs at http:\/\/127\.0\.0\.1:\d+ did not answer/);
  });

  it('retries an APNs push left unanswered past the timeout, on a new session', async () => {
    apns.script.set('silent', [{ status: -1 }]);
    const sessions = apns.sessions;
    const email = await shop.person([{ provider: 'ios', subscription_id: 'silent' }]);
    const m = await shop.settled(await shop.launch(email));
    assert.deepEqual([m.status, m.attempts], ['sent', 2], JSON.stringify(m.history));
    assert.match(m.history.find((h) => h.status === 'waiting')!.detail!, /^TIMEOUT: APNs at http:\/\/127\.0\.0\.1:\d+ did not answer within 1000 ms/);
    assert.equal(apns.delivered.filter((d) => d.token === 'silent').length, 1);
    assert.ok(apns.sessions > sessions, 'the silent session was replaced');
  });
});
