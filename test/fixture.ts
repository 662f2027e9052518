/** A shop set up through the API as a user would: what the trigger tests launch against. */
import { ok, type ServerOptions, startServer, type TestServer } from './helpers.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';

export interface Shop {
  db: number;
  resource: number;
  other: number;
  /** The template every shop campaign uses (email, sms and push). */
  template: number;
  campaigns: { email: number; sms: number; push: number; inactive: number; action: number; filtered: number; override: number };
  profiles: Record<string, string>;
}

/** Imports a profile (matched by email unless `match` says otherwise) and answers its id. */
export async function addProfile(s: TestServer, db: number, data: Record<string, unknown>, match: Record<string, unknown> = {}): Promise<string> {
  return ok(await s.call('profiles/import', { db_id: db, ...match, data })).profile_id;
}

/**
 * Adds an active api_call campaign on a database and resource already made, and answers its id. Its
 * template is `template` or, given `email` (subject, html, text), a new one with those e-mail fields;
 * `extra` sets or overrides any other campaign field. The one way tests add a campaign through the API.
 */
export async function addCampaign(
  s: TestServer,
  o: { name: string; db: number; resource: number; template?: number; email?: Record<string, string>; extra?: Record<string, unknown> },
): Promise<number> {
  const template = o.template ?? ok(await s.call('templates/add', { name: o.name, channels: [{ sid: 'email', fields: o.email }] })).data.id;
  const body = { name: o.name, trigger_type: 'api_call', send_channel: 'email', resource_id: o.resource, db_id: o.db, content: [{ message_id: template }], is_active: true, ...o.extra };
  return ok(await s.call('campaigns/triggers/add', body)).data.id;
}

/** A campaign of its own on the shop (its database, resource and template unless `o` says otherwise), for a test that changes it. */
export const shopCampaign = (s: TestServer, shop: Shop, name: string, o: { email?: Record<string, string>; extra?: Record<string, unknown> } = {}) =>
  addCampaign(s, { name, db: shop.db, resource: shop.resource, template: o.email ? undefined : shop.template, ...o });

export async function setupShop(s: TestServer): Promise<Shop> {
  const db = ok(
    await s.call('databases/add', {
      name: 'shop',
      fields: [
        { name: 'Custom_ID', type: 'string', indexed: true },
        { name: 'CRM_ID', type: 'int', indexed: true },
        { name: 'Tags', type: 'tags', indexed: true },
        { name: 'Segment', type: 'string' },
      ],
    }),
  ).data.id;
  const resource = ok(
    await s.call('resources/add', {
      name: 'Shop',
      channels: ['email', 'sms', 'push'],
      email: { from_email: 'news@shop.example', from_name: 'Shop News' },
      sms: { sender: 'SHOP' },
    }),
  ).data.id;
  const other = ok(await s.call('resources/add', { name: 'Other', channels: ['email'], email: { from_email: 'other@shop.example' } })).data.id;

  const template = ok(
    await s.call('templates/add', {
      name: 'videos',
      channels: [
        {
          sid: 'email',
          fields: {
            subject: '{apicontent.email_title}',
            html: '<p>Hi {lead._fname}!</p><ul>{for line in apicontent.data_lines}<li>{line}</li>{end}</ul>{if apicontent.note}<p>{apicontent.note}</p>{end}',
            text: 'Hi {lead._fname}! {for line in apicontent.data_lines}[{line}]{end}',
          },
        },
        { sid: 'sms', fields: { text: 'Code {apicontent.code} for {subscription.phone}' } },
        { sid: 'push', fields: { title: 'Hi {lead._fname}', body: '{apicontent.body}', url: 'https://shop.example/{apicontent.path}' } },
      ],
    }),
  ).data.id;

  const campaign = (name: string, extra: Record<string, unknown> = {}) => addCampaign(s, { name, db, resource, template, extra });

  const campaigns = {
    email: await campaign('New videos'),
    sms: await campaign('Codes', { send_channel: 'sms' }),
    push: await campaign('Pushes', { send_channel: 'push' }),
    inactive: await campaign('Paused', { is_active: false }),
    action: await campaign('On action', { trigger_type: 'action' }),
    filtered: await campaign('Only videos', { content_filter: { kind: { $in: ['video'] } } }),
    override: await campaign('Overridden', { content: [{ message_id: template, subject: 'Override for {lead._fname}', from_name: 'The Team', from_email: 'team@shop.example' }] }),
  };

  const sub = (channel: string, address: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ resource_id: resource, channel, ...address, ...extra });
  const profiles: Record<string, string> = {};
  const add = async (key: string, data: Record<string, unknown>) => (profiles[key] = await addProfile(s, db, data));
  await add('john', {
    email: 'john@example.com', _fname: 'John', Custom_ID: 'IpHicQquekzYkufl', CRM_ID: 123420, Tags: ['tag-1', 'tag-2'], phones: ['+79000000001'],
    subscriptions: [sub('email', { email: 'john@example.com' }), sub('sms', { phone: '+79000000001' }), sub('push', { provider: 'Chrome', subscription_id: 'CAREFULWITHTHATAXE' })],
  });
  await add('ann', { email: 'ann@example.com', _fname: 'Ann', Custom_ID: 'xzFKLXeaJkCYHuMb', Tags: ['tag-1'], subscriptions: [sub('email', { email: 'ann@example.com' })] });
  await add('bob', { email: 'bob@example.com', _fname: 'Bob', Custom_ID: 'SRNOwHVZiWFItJhr', subscriptions: [sub('email', { email: 'bob@example.com' })] });
  return { db, resource, other, template, campaigns, profiles };
}

/** A test SMTP server, a Salvo server delivering to it, and the shop set up on it. */
export async function startShop(o: ServerOptions = {}) {
  const smtp = await startSmtp();
  const s = await startServer({ ...o, workers: o.workers ?? true, env: { SALVO_SMTP_URL: smtp.url, ...o.env } });
  return { smtp, s, shop: await setupShop(s) };
}

export async function stopShop(s: TestServer, smtp: TestSmtp): Promise<void> {
  await s.close();
  await smtp.close();
}
