/** An SMS shop set up through the API: a resource with the given SMS settings, a template, a campaign and profiles. */
import { eventually, ok, type TestServer } from '../helpers.ts';

export interface SmsShop {
  db: number;
  resource: number;
  campaign: number;
  /** Starts the campaign for a phone with `content`; answers the message id. */
  start(phone: string, content?: Record<string, unknown>): Promise<number>;
  /** The message when `done` holds for it. */
  message(id: number, done?: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
}

// biome-ignore lint/suspicious/noExplicitAny: messages/get answers a loosely typed object, checked by the assertions
type Message = Record<string, any>;

export async function setupSmsShop(s: TestServer, sms: Record<string, unknown>, phones: string[], text = '{apicontent.text}'): Promise<SmsShop> {
  const db = ok(await s.call('databases/add', { name: 'sms' })).data.id;
  const resource = ok(await s.call('resources/add', { name: 'Shop', channels: ['sms'], sms })).data.id;
  const template = ok(await s.call('templates/add', { name: 'sms', channels: [{ sid: 'sms', fields: { text } }] })).data.id;
  const campaign = ok(
    await s.call('campaigns/triggers/add', { name: 'sms', trigger_type: 'api_call', send_channel: 'sms', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true }),
  ).data.id;
  for (const phone of phones) {
    ok(await s.call('profiles/import', { db_id: db, matching: 'phone', phone, data: { phones: [phone], subscriptions: [{ resource_id: resource, channel: 'sms', phone }] } }));
  }
  return {
    db,
    resource,
    campaign,
    async start(phone, content = {}) {
      ok(await s.call('campaigns/triggers/start', { id: campaign, matching: 'phone', phone, content }));
      const list = ok(await s.call('messages/list', { campaign_id: campaign, limit: 1000 })).data as Message[];
      return list.find((m) => m.address === phone)!.id;
    },
    async message(id, done = (m) => m.status !== 'queued' && m.status !== 'sending' && m.status !== 'waiting', timeoutMs = 15_000) {
      return eventually(
        async () => {
          const m = ok(await s.call('messages/get', { id })).data as Message;
          return done(m) ? m : null;
        },
        timeoutMs,
        `message ${id}`,
      );
    },
  };
}
