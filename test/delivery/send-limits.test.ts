/**
 * A resource's sending limits in one process on SQLite, against a real SMTP server: resources/add|update
 * take and show `email.limits` and `sms.limits` and refuse bad ones with a 400; per_second and per_hour
 * space the mails that arrive; per_domain_connections bounds the mails in flight to one domain at an SMTP
 * server that holds each mail; a relay's 421 holds the resource's other messages for the back-off; held
 * messages are not charged an attempt and say why in their history; an unlimited resource is unaffected.
 * The PostgreSQL, two-process measure is test/delivery/send-limits-pg.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addCampaign, type Shop, startShop, stopShop } from '../fixture.ts';
import { eventually, ok, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';

/** When each mail reached the SMTP server's DATA, by subject. */
type Arrivals = { subject: string; to: string; at: number }[];

function recordArrivals(smtp: TestSmtp, arrivals: Arrivals, verdict: (n: number, raw: string) => ReturnType<TestSmtp['verdict']> = () => null) {
  smtp.verdict = (n, raw) => {
    const subject = /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? '';
    const to = /^To: (.*)$/m.exec(raw)?.[1]?.trim() ?? '';
    arrivals.push({ subject, to, at: Date.now() });
    return verdict(n, raw);
  };
}

describe('sending limits (one process, SQLite)', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  const arrivals: Arrivals = [];

  before(async () => {
    ({ s, smtp, shop } = await startShop());
    recordArrivals(smtp, arrivals);
  });
  after(() => stopShop(s, smtp));

  /** A resource with `limits`, a campaign on it whose subject is `tag`, and `n` profiles subscribed on it (segment `tag`), at `domain`. */
  async function limitedCampaign(tag: string, limits: Record<string, number> | null, n: number, domains = ['example.com']) {
    const resource = ok(await s.call('resources/add', { name: tag, channels: ['email'], email: { from_email: 'news@shop.example', ...(limits ? { limits } : {}) } })).data.id;
    const campaign = await addCampaign(s, { name: tag, db: shop.db, resource, email: { subject: tag, text: 'hello {lead._fname}' } });
    const data = Array.from({ length: n }, (_, i) => {
      const email = `${tag}-${i}@${domains[i % domains.length]}`;
      return { email, _fname: `P${i}`, Segment: tag, subscriptions: [{ resource_id: resource, channel: 'email', email }] };
    });
    ok(await s.call('profiles/import_batch', { db_id: shop.db, data }));
    return { resource, campaign };
  }

  async function launch(campaign: number, tag: string): Promise<number> {
    const r = ok(await s.call('campaigns/triggers/start', { id: campaign, custom_request: { Segment: tag } }));
    return r.data?.launch_id ?? Number(r.headers?.get?.('launch-id')) ?? 0;
  }

  type Sent = { id: number; status: string; attempts: number; history: { status: string; detail?: string }[] };

  /** Once all `n` messages of the campaign are sent: each as messages/get shows it (with its history). */
  async function allSent(campaign: number, n: number, timeoutMs = 30_000): Promise<Sent[]> {
    const list = await eventually(async () => {
      const l = ok(await s.call('messages/list', { campaign_id: campaign, limit: 1000 })).data as Sent[];
      return l.length === n && l.every((m) => m.status === 'sent') && l;
    }, timeoutMs, `${n} messages of campaign ${campaign} sent`);
    return Promise.all(list.map(async (m) => ok(await s.call('messages/get', { id: m.id })).data as Sent));
  }

  const of = (tag: string) => arrivals.filter((a) => a.subject === tag);

  it('takes email.limits and sms.limits, shows them in resources/get, and refuses bad ones with a 400 naming the field', async () => {
    const id = ok(
      await s.call('resources/add', { name: 'limits shown', channels: ['email', 'sms'], email: { from_email: 'a@shop.example', limits: { per_second: 14, per_hour: 50000, per_domain_connections: 2 } }, sms: { sender: 'SHOP', limits: { per_second: 5 } } }),
    ).data.id;
    const got = ok(await s.call('resources/get', { id })).data;
    assert.deepEqual(got.email.limits, { per_second: 14, per_hour: 50000, per_domain_connections: 2 });
    assert.deepEqual(got.sms.limits, { per_second: 5 });
    const updated = ok(await s.call('resources/update', { id, sms: { sender: 'SHOP', limits: { per_hour: 100 } } })).data;
    assert.deepEqual(updated.sms.limits, { per_hour: 100 });
    assert.deepEqual(updated.email.limits, { per_second: 14, per_hour: 50000, per_domain_connections: 2 }, 'a block not given is kept');

    const refused = async (body: Record<string, unknown>, text: RegExp) => {
      const r = await s.call('resources/add', { name: `bad ${Math.random()}`, channels: ['email', 'sms'], ...body });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error, 400);
      assert.match(r.body.error_text, text);
    };
    const email = (limits: unknown) => ({ email: { from_email: 'a@shop.example', limits } });
    await refused(email({ per_second: 0 }), /email\.limits.*per_second/);
    await refused(email({ per_second: 2.5 }), /email\.limits.*per_second/);
    await refused(email({ per_hour: 'lots' }), /email\.limits.*per_hour/);
    await refused(email({ per_minute: 5 }), /email\.limits\.per_minute is not a limit \(expected per_second, per_hour, per_domain_connections\)/);
    await refused(email([1]), /email\.limits/);
    await refused({ ...email({}), sms: { limits: { per_domain_connections: 2 } } }, /^sms\.limits\.per_domain_connections applies to email only/);
  });

  // The first mail of a resource also opens the SMTP connection (about 100 ms more than the rest), so spans
  // are measured from the second mail, with a margin for the timer jitter of a loaded machine (an
  // unlimited resource sends them all within about 150 ms).
  it('sends at most per_second: 10 mails at 2/s take 4 s; those held past 2 s wait without an attempt charged and say why', async () => {
    const { resource, campaign } = await limitedCampaign('two-a-second', { per_second: 2 }, 10);
    await launch(campaign, 'two-a-second');
    const sent = await allSent(campaign, 10);
    const times = of('two-a-second').map((a) => a.at).sort((a, b) => a - b);
    assert.equal(times.length, 10);
    const span = times[9] - times[1];
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    console.log(`per_second 2: mails 2 to 10 over ${span} ms; gaps ${gaps.join(', ')} ms`);
    assert.ok(span >= 8 * 500 - 200, `mails 2 to 10 at 2/s took ${span} ms`);
    // In any second at most 2 mails, and one more for the jitter of a loaded machine (unlimited: all 10 at once).
    const busiest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
    assert.ok(busiest <= 3, `${busiest} mails in one second (gaps ${gaps})`);
    // 8 workers would reserve 4 s ahead; past the 2 s horizon messages are held with their slot, and come back for it.
    const held = sent.filter((m) => m.history.some((h) => h.status === 'waiting'));
    assert.ok(held.length > 0, 'some messages were held');
    for (const m of sent) assert.equal(m.attempts, 1, `message ${m.id} was charged only its one send`);
    const detail = held[0].history.find((h) => h.status === 'waiting')!.detail!;
    assert.match(detail, new RegExp(`^held by resource ${resource}'s sending limit \\(2/s\\) until \\d{4}-\\d\\d-\\d\\dT`));
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const holds = new RegExp(`^salvo_send_limit_holds_total\\{resource="${resource}",channel="email"\\} (\\d+)$`, 'm').exec(metrics);
    // Each held message was held once: it kept the slot it was given and was sent at it.
    assert.equal(Number(holds?.[1]), held.length, 'salvo_send_limit_holds_total counts one hold per held message');
    assert.match(metrics, /^salvo_send_limit_wait_seconds_count\{channel="email"\} \d+$/m);
  });

  it('paces per_hour evenly: at 14400/h, 8 mails are 250 ms apart', async () => {
    const { campaign } = await limitedCampaign('per-hour', { per_hour: 14_400 }, 8);
    await launch(campaign, 'per-hour');
    await allSent(campaign, 8);
    const times = of('per-hour').map((a) => a.at).sort((a, b) => a - b);
    const span = times[7] - times[1];
    console.log(`per_hour 14400: mails 2 to 8 over ${span} ms`);
    assert.ok(span >= 6 * 250 - 150, `mails 2 to 8 at 14400/h took ${span} ms`);
  });

  it('keeps per_domain_connections: at most 2 mails in flight to one domain at a server that holds each 300 ms; another domain has its own 2', async () => {
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    recordArrivals(smtp, arrivals, (_n, raw) => {
      if (!raw.includes('Subject: two-at-once')) return null;
      const domain = /^To: .*@([^>\s]+)/m.exec(raw)![1];
      inFlight.set(domain, (inFlight.get(domain) ?? 0) + 1);
      most.set(domain, Math.max(most.get(domain) ?? 0, inFlight.get(domain)!));
      setTimeout(() => inFlight.set(domain, inFlight.get(domain)! - 1), 300);
      return { delayMs: 300 };
    });
    try {
      const { campaign } = await limitedCampaign('two-at-once', { per_domain_connections: 2 }, 12, ['example.com', 'example.org']);
      await launch(campaign, 'two-at-once');
      const sent = await allSent(campaign, 12);
      console.log(`per_domain_connections 2: most in flight ${JSON.stringify(Object.fromEntries(most))}`);
      assert.deepEqual(Object.fromEntries(most), { 'example.com': 2, 'example.org': 2 });
      for (const m of sent) assert.equal(m.attempts, 1);
    } finally {
      recordArrivals(smtp, arrivals);
    }
  });

  it("holds the resource's other messages for 5 s after the relay's 421, and charges them no attempt", async () => {
    const { resource, campaign } = await limitedCampaign('slow-down', { per_second: 2 }, 4);
    let refusedAt = 0;
    recordArrivals(smtp, arrivals, (_n, raw) => {
      if (!raw.includes('Subject: slow-down') || refusedAt) return null;
      refusedAt = Date.now();
      return { code: 421, message: '4.7.0 Too many messages, slow down' };
    });
    try {
      await launch(campaign, 'slow-down');
      // During the back-off, messages/stats (the console's overview) and /metrics show the wait.
      const during = await eventually(async () => {
        const stats = ok(await s.call('messages/stats')).data;
        return stats.send_limits.find((l: { resource_id: number }) => l.resource_id === resource);
      }, 10_000, 'messages/stats to show the back-off');
      assert.equal(during.channel, 'email');
      assert.ok(during.next_slot_seconds >= 1 && during.next_slot_seconds <= 5, `next slot in ${during.next_slot_seconds} s`);
      const delay = new RegExp(`^salvo_send_limit_delay_seconds\\{resource="${resource}",channel="email"\\} (\\d+)$`, 'm').exec(await (await fetch(`${s.url}/metrics`)).text());
      assert.ok(delay && Number(delay[1]) >= 1 && Number(delay[1]) <= 5, `salvo_send_limit_delay_seconds ${delay?.[1]}`);
      const sent = await allSent(campaign, 4, 30_000);
      const accepted = smtp.received.filter((r) => r.mail.subject === 'slow-down');
      assert.equal(accepted.length, 4);
      const after421 = of('slow-down').filter((a) => a.at > refusedAt).map((a) => a.at - refusedAt);
      console.log(`after the 421, the mails arrived at +${after421.join(', +')} ms`);
      assert.ok(after421.length >= 4 && after421.every((d) => d >= 4_900), 'nothing of the resource went in the 5 s after the 421');
      const refused = sent.find((m) => m.attempts === 2)!;
      assert.ok(refused, 'the refused message was retried as any 4xx is');
      assert.match(refused.history.map((h) => h.detail).join('\n'), /SMTP 421 4\.7\.0 Too many messages, slow down/);
      const others = sent.filter((m) => m !== refused);
      for (const m of others) assert.equal(m.attempts, 1);
      const held = others.flatMap((m) => m.history.filter((h) => h.status === 'waiting').map((h) => h.detail!));
      assert.ok(held.some((d) => d.startsWith(`held: resource ${resource} backs off after its relay asked to slow down (421/454) until `)), held.join('\n'));
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`^salvo_send_limit_backoffs_total\\{resource="${resource}",channel="email"\\} 1$`, 'm'));
    } finally {
      recordArrivals(smtp, arrivals);
    }
  });

  it("backs off a resource without limits too after the relay's 421: a message launched during the back-off waits it out", async () => {
    const { resource, campaign } = await limitedCampaign('unlimited-421', null, 2);
    let refusedAt = 0;
    recordArrivals(smtp, arrivals, (_n, raw) => {
      if (!raw.includes('Subject: unlimited-421') || refusedAt) return null;
      refusedAt = Date.now();
      return { code: 454, message: '4.7.0 Temporary authentication failure, slow down' };
    });
    try {
      const first = ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'unlimited-421-0@example.com' }));
      assert.equal(first.error, 0);
      await eventually(async () => refusedAt > 0, 10_000, 'the 454');
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'unlimited-421-1@example.com' }));
      const sent = await allSent(campaign, 2, 30_000);
      const after = of('unlimited-421').filter((a) => a.at > refusedAt).map((a) => a.at - refusedAt);
      console.log(`unlimited resource after the 454: mails at +${after.join(', +')} ms`);
      assert.equal(after.length, 2);
      assert.ok(after.every((d) => d >= 4_900), 'nothing of the resource went in the 5 s after the 454');
      const second = sent.find((m) => m.attempts === 1)!;
      assert.ok(second.history.some((h) => h.detail?.startsWith(`held: resource ${resource} backs off after its relay asked to slow down (421/454) until `)), JSON.stringify(second.history));
    } finally {
      recordArrivals(smtp, arrivals);
    }
  });

  it('leaves an unlimited resource alone: 16 mails go at once, nothing held', async () => {
    const { campaign } = await limitedCampaign('unlimited', null, 16);
    await launch(campaign, 'unlimited');
    const sent = await allSent(campaign, 16);
    const times = of('unlimited').map((a) => a.at).sort((a, b) => a - b);
    console.log(`unlimited: 16 mails over ${times[15] - times[0]} ms`);
    for (const m of sent) {
      assert.equal(m.attempts, 1);
      assert.ok(!m.history.some((h) => h.status === 'waiting'), 'nothing held');
    }
    // 8 workers in parallel: well under the 3.75 s that even 4/s would take.
    assert.ok(times[15] - times[0] < 3_000, `unlimited mails took ${times[15] - times[0]} ms`);
  });
});
