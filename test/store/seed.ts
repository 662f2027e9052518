/** Store-level seed data the queue tests share: a campaign (with its database, resource and template) and a launch. */
import type { Store } from '../../src/store/store.ts';

/** A campaign with a launch to hang messages on. */
export async function seedLaunch(store: Store, now: number): Promise<{ campaign: number; launch: number }> {
  const db = await store.insertDatabase({ name: 'q', fields: [] }, now);
  const resource = await store.insertResource({ name: 'r', channels: ['email'], email: { from_email: 'r@example.com' }, sms: null, push: null, tracking_domain: null }, now);
  const template = await store.insertTemplate({ name: 't', channels: { email: { subject: 's', text: 't' } } }, now);
  const c = await store.insertCampaign(
    {
      name: 'c', link_key: 'k', is_active: true, trigger_type: 'api_call', send_channel: 'email', resource_id: resource.id, db_id: db.id,
      content: [{ message_id: template.id }], skip_minutes: 0, subid: null, unconditional_sending: false, attributes: {}, content_filter: null,
    },
    now,
  );
  const l = await store.insertLaunch({ campaign_id: c.id, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, now);
  return { campaign: c.id, launch: l.id };
}
