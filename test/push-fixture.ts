/** A push campaign set up through the API, as a user would: database, resource with push settings, template, campaign. */
import { createECDH } from 'node:crypto';
import { eventually, ok, type TestServer } from './helpers.ts';

export interface PushShop {
  db: number;
  resource: number;
  campaign: number;
  /** Imports a profile with these push subscriptions (resource_id and channel added); answers its email. */
  person(subscriptions: Record<string, unknown>[]): Promise<string>;
  /** Starts the campaign for the profile; answers the message id. */
  launch(email: string, content?: Record<string, unknown>): Promise<number>;
  /** The message once it is sent, failed or skipped. */
  settled(id: number): Promise<PushMessage>;
  /** The profile's push subscriptions as profiles/get shows them. */
  subscriptions(email: string): Promise<Record<string, unknown>[]>;
}

interface PushMessage {
  id: number;
  status: string;
  attempts: number;
  skip_reason: string | null;
  last_error: string | null;
  history: { status: string; time: string; detail?: string }[];
}

/** A VAPID key pair as `web-push generate-vapid-keys` prints it: base64url public point and private scalar. */
export function vapidKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { vapid_public_key: ecdh.getPublicKey().toString('base64url'), vapid_private_key: ecdh.getPrivateKey().toString('base64url') };
}

let shops = 0;
export async function setupPushShop(s: TestServer, push: Record<string, unknown>): Promise<PushShop> {
  const n = ++shops;
  let people = 0;
  const db = ok(await s.call('databases/add', { name: `push-${n}` })).data.id as number;
  const resource = ok(await s.call('resources/add', { name: `Push ${n}`, channels: ['push'], push })).data.id as number;
  const template = ok(
    await s.call('templates/add', {
      name: `push-${n}`,
      channels: [{ sid: 'push', fields: { title: 'Hi {lead._fname}', body: 'Order {apicontent.order} is paid', url: 'https://shop.example/o/{apicontent.order}', icon: 'https://shop.example/i.png' } }],
    }),
  ).data.id as number;
  const campaign = ok(
    await s.call('campaigns/triggers/add', { name: `push-${n}`, trigger_type: 'api_call', send_channel: 'push', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true }),
  ).data.id as number;
  return {
    db,
    resource,
    campaign,
    async person(subscriptions) {
      const email = `push${n}-${++people}@example.com`;
      ok(await s.call('profiles/import', { db_id: db, data: { email, _fname: 'Ann', subscriptions: subscriptions.map((x) => ({ resource_id: resource, channel: 'push', ...x })) } }));
      return email;
    },
    async launch(email, content = { order: 'A-17' }) {
      const r = await s.call('campaigns/triggers/start', { id: campaign, email, content }, { headers: { 'x-request-id': `push-${n}-${++people}` } });
      ok(r);
      const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
      return m.id as number;
    },
    settled: (id) =>
      eventually(async () => {
        const m = ok(await s.call('messages/get', { id })).data as PushMessage;
        return ['sent', 'captured', 'failed', 'skipped'].includes(m.status) && m;
      }, 20_000, `message ${id} to settle`),
    async subscriptions(email) {
      return ok(await s.call('profiles/get', { db_id: db, email })).data.subscriptions;
    },
  };
}
