/**
 * Store-level seed data, for tests that work below the API (the store contract, the queue, the
 * engine): the one way they make a campaign and a launch. Tests through the API use test/fixture.ts.
 */
import type { Store } from '../../src/store/store.ts';

/** An active api_call e-mail campaign, with a resource and template of its own, on database `db` (a new empty one if not given). */
export async function seedCampaign(store: Store, now: number, o: { db?: number } = {}): Promise<{ db: number; campaign: number }> {
  const db = o.db ?? (await store.insertDatabase({ name: 'q', fields: [] }, now)).id;
  const resource = await store.insertResource({ name: 'r', channels: ['email'], email: { from_email: 'r@example.com' }, sms: null, push: null, tracking_domain: null, resource_token: 'seed-resource-token' }, now);
  const template = await store.insertTemplate({ name: 't', channels: { email: { subject: 's', text: 't' } } }, now);
  const c = await store.insertCampaign(
    {
      name: 'c', link_key: 'k', is_active: true, trigger_type: 'api_call', send_channel: 'email', resource_id: resource.id, db_id: db,
      content: [{ message_id: template.id }], skip_minutes: 0, subid: null, unconditional_sending: false, transactional: false, attributes: {}, content_filter: null,
    },
    now,
  );
  return { db, campaign: c.id };
}

/** A campaign with a launch to hang messages on. */
export async function seedLaunch(store: Store, now: number): Promise<{ campaign: number; launch: number }> {
  const { campaign } = await seedCampaign(store, now);
  const l = await store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, now);
  return { campaign, launch: l.id };
}
