/**
 * The SMSC drops the session with a full window of submit_sm unanswered (it took them, the resps are
 * lost with the connection). Salvo rebinds and sends those again: nothing is lost, and exactly the
 * submits in flight at the drop arrive twice; every other message arrives once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';
import { setupSmsShop, type SmsShop } from '../delivery/sms.ts';

const WINDOW = 4;
const PHONES = Array.from({ length: 12 }, (_, i) => `+7900100${String(i).padStart(4, '0')}`);

let smsc: TestSmsc;
let s: TestServer;
let shop: SmsShop;
before(async () => {
  smsc = await startSmsc();
  s = await startServer({ workers: true });
  shop = await setupSmsShop(s, { sender: '+15550001', smpp: { url: smsc.url, window: WINDOW } }, PHONES);
});
after(async () => {
  await s.close();
  await smsc.close();
});

test('a session dropped mid-window: every message is sent, and only the in-flight ones twice', async () => {
  let swallowed = 0;
  smsc.verdict = () => {
    if (smsc.binds > 1) return 0;
    if (++swallowed === WINDOW) setImmediate(() => smsc.sessions[0].destroy());
    return 'swallow';
  };
  const ids: number[] = [];
  for (const phone of PHONES) ids.push(await shop.start(phone, { text: `hello ${phone}` }));
  const messages = [];
  for (const id of ids) messages.push(await shop.message(id, (m) => m.status === 'delivered', 30_000));

  assert.equal(swallowed, WINDOW, 'the SMSC held a full window when it dropped');
  assert.equal(smsc.binds, 2, 'Salvo bound again');
  const inFlight = new Set(smsc.submits.filter((x) => x.status === 0 && x.n <= WINDOW).map((x) => x.to));
  assert.equal(inFlight.size, WINDOW);
  for (const phone of PHONES) {
    const to = phone.slice(1);
    const arrived = smsc.messages().filter((x) => x.to === to).length;
    assert.equal(arrived, inFlight.has(to) ? 2 : 1, `${phone} arrived ${arrived} times`);
  }
  for (const m of messages) {
    assert.equal(m.history.filter((h: { status: string }) => h.status === 'sent').length, 1, `message ${m.id} was recorded sent once`);
    if (inFlight.has(m.address.slice(1))) assert.match(m.history.find((h: { status: string }) => h.status === 'waiting').detail, /^SMPP_SESSION_LOST: .*may have been accepted/);
  }
  const sentish = ok(await s.call('messages/list', { campaign_id: shop.campaign, status: 'delivered', limit: 100 })).data;
  assert.equal(sentish.length, PHONES.length);
  // The numeric sender goes as an international number.
  assert.deepEqual([smsc.submits[0].sourceTon, smsc.submits[0].sourceNpi, smsc.submits[0].from], [1, 1, '15550001']);
});
