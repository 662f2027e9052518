/** The catalog's entries (databases, resources and templates): checked, stored, shown in Altcraft's shapes. */
import { randomBytes } from 'node:crypto';
import { badRequest, conflict, forbidden, notFound } from '../core/errors.ts';
import { checkFieldDefs, normalizeEmail } from '../core/fields.ts';
import { SYSTEM_FIELDS } from '../core/system-fields.ts';
import { checkTemplateChannels, templateChannelsView, templateWarnings, type ChannelInput } from '../core/templates.ts';
import { changedSecrets, redactSettings, restoreSecrets } from '../core/resource-secrets.ts';
import { checkDkim, checkPushSettings, checkSmsSettings, resourcePeerUrls } from '../core/resource-settings.ts';
import { checkSendLimits } from '../core/send-limits.ts';
import { SUBSCRIPTION_CHANNELS, type SubscriptionChannel, type Database, type EmailSender, type Resource, type Template } from '../core/types.ts';
import { COUNT_CAP, type CatalogKind, type EntryUsers } from '../store/queries/catalog.ts';
import type { CatalogStore, ProfileStore, Transactions } from '../store/store.ts';
import { iso } from '../support/time.ts';
import type { Catalog } from './catalog.ts';
import { urlsRefusal } from './egress.ts';

export const databaseView = (d: Database) => ({ id: d.id, name: d.name, fields: d.fields, created: iso(d.created_at) });

/** databases/get: the database, and its subscriptions counted by channel and status (every channel, the messengers too). */
export async function databaseWithCounts(store: Pick<CatalogStore, 'getDatabase'> & Pick<ProfileStore, 'countSubscriptions'>, id: number) {
  const db = await loadDatabase(store, id);
  return { ...databaseView(db), subscriptions: await store.countSubscriptions(db.id) };
}

export async function addDatabase(store: Pick<CatalogStore, 'insertDatabase'>, body: { name: string; fields?: { name: string; type: string; indexed?: boolean }[] }) {
  const fields = checkFieldDefs(body.fields ?? []);
  return store.insertDatabase({ name: body.name, fields }, Date.now());
}

/**
 * databases/update: a new name, and fields added. A field already there must be given as it is (same
 * type and index): no profile holds a value for a new field yet (unknown fields are refused on write), so
 * adding one, indexed or not, needs no backfill; changing or removing one would, and is refused.
 */
export async function updateDatabase(
  { store, catalog }: { store: Pick<CatalogStore, 'getDatabase' | 'updateDatabase'>; catalog: Pick<Catalog, 'forget'> },
  body: { id: number; name?: string; fields?: { name: string; type: string; indexed?: boolean }[] },
) {
  const db = await loadDatabase(store, body.id);
  const given = checkFieldDefs(body.fields ?? []);
  const byName = new Map(db.fields.map((f) => [f.name, f]));
  for (const [i, f] of given.entries()) {
    const old = byName.get(f.name);
    if (old && (old.type !== f.type || Boolean(old.indexed) !== Boolean(f.indexed))) {
      throw badRequest(`field 'fields[${i}]': ${f.name} is already a ${old.type}${old.indexed ? ' (indexed)' : ''} field; a field cannot be changed, only added`);
    }
  }
  const added = given.filter((f) => !byName.has(f.name));
  const fields = checkFieldDefs([...db.fields, ...added]);
  const updated = { ...db, name: body.name ?? db.name, fields };
  await store.updateDatabase(updated);
  catalog.forget('database', db.id);
  return updated;
}

export async function loadDatabase(store: Pick<CatalogStore, 'getDatabase'>, id: number): Promise<Database> {
  const db = await store.getDatabase(id);
  if (!db) throw notFound(`database ${id} not found`);
  return db;
}

export const listDatabases = (store: Pick<CatalogStore, 'listDatabases'>) => store.listDatabases();
export const listResources = (store: Pick<CatalogStore, 'listResources'>) => store.listResources();
export const listTemplates = (store: Pick<CatalogStore, 'listTemplates'>) => store.listTemplates();

export async function databaseFields(store: Pick<CatalogStore, 'getDatabase'>, id: number) {
  const db = await loadDatabase(store, id);
  const system = SYSTEM_FIELDS.map(({ name, type, indexed, read_only }) => ({ name, type, indexed, ...(read_only ? { read_only } : {}), system: true }));
  return [...system, ...db.fields.map((f) => ({ ...f, system: false }))];
}

export interface ResourceInput {
  name: string;
  channels: string[];
  email?: Partial<EmailSender>;
  /** Checked by core/resource-settings.ts: {sender, smpp, http}. */
  sms?: unknown;
  /** Checked by core/resource-settings.ts: {name, webpush, fcm, apns}. */
  push?: unknown;
  tracking_domain?: string | null;
}

/**
 * A resource's public token: 24 random bytes, base64url (192 bits, not guessable). Pages embed it, so it
 * is no secret; it only lets push_subscribe add push subscriptions of this resource.
 */
const newResourceToken = () => randomBytes(24).toString('base64url');

/** A resource's fields checked: what resources/add stores, and resources/update with the stored resource filled in. */
function checkedResource(body: ResourceInput): Omit<Resource, 'id' | 'created_at' | 'resource_token'> {
  const channels = [...new Set(body.channels)] as SubscriptionChannel[];
  for (const c of channels) if (!SUBSCRIPTION_CHANNELS.includes(c)) throw badRequest(`channels: '${c}' is not a channel (${SUBSCRIPTION_CHANNELS.join(', ')})`);
  if (channels.length === 0) throw badRequest('channels must name at least one channel');
  let email: EmailSender | null = null;
  if (channels.includes('email')) {
    if (!body.email?.from_email) throw badRequest("email.from_email is required for a resource with the 'email' channel");
    email = { from_email: normalizeEmail(body.email.from_email, 'email.from_email') };
    if (body.email.from_name) email.from_name = body.email.from_name;
    if (body.email.replyto_email) email.replyto_email = normalizeEmail(body.email.replyto_email, 'email.replyto_email');
    if (body.email.replyto_name) email.replyto_name = body.email.replyto_name;
    if (body.email.track_opens === true) email.track_opens = true;
    if (body.email.track_clicks === true) email.track_clicks = true;
    if (body.email.unsubscribe_mailto) email.unsubscribe_mailto = normalizeEmail(body.email.unsubscribe_mailto, 'email.unsubscribe_mailto');
    if (body.email.dkim != null) email.dkim = checkDkim(body.email.dkim);
    const limits = checkSendLimits(body.email.limits, 'email');
    if (limits) email.limits = limits;
  }
  const domain = body.tracking_domain ?? null;
  if (domain !== null && !/^[a-z0-9.-]+(:\d+)?$/i.test(domain)) throw badRequest(`tracking_domain '${domain}' is not a host name`);
  // A block of a channel the resource does not have is checked too (a typo is still a 400), then dropped.
  const sms = checkSmsSettings(body.sms);
  const push = checkPushSettings(body.push);
  return {
    name: body.name,
    channels,
    email,
    sms: channels.includes('sms') ? sms : null,
    push: channels.includes('push') ? push : null,
    tracking_domain: domain,
  };
}

/** A token whose role may not set provider secrets (an editor's) is refused when a write would change one. */
function checkSecretsAllowed(before: Parameters<typeof changedSecrets>[0], after: Parameters<typeof changedSecrets>[1], secretsAllowed: boolean) {
  if (secretsAllowed) return;
  const changed = changedSecrets(before, after);
  if (changed.length) throw forbidden(`only an admin token may set provider secrets (${changed.join(', ')}); send them back as resources/get shows them to keep them`);
}

/** The egress policy (SALVO_EGRESS_DENY_PRIVATE) as resources/add and update apply it. */
export interface EgressCheck {
  denyPrivate: boolean;
}

/** With the egress policy on, a 400 when a peer URL of `r` that `before` did not have is (or resolves to) a private address. */
async function checkPeers(egress: EgressCheck, r: Pick<Resource, 'sms' | 'push'>, before?: Pick<Resource, 'sms' | 'push'>): Promise<void> {
  if (!egress.denyPrivate) return;
  const had = new Set(before ? resourcePeerUrls(before).map((u) => `${u.field} ${u.url}`) : []);
  const why = await urlsRefusal(resourcePeerUrls(r).filter((u) => !had.has(`${u.field} ${u.url}`)));
  if (why) throw badRequest(why);
}

export async function addResource(store: Pick<CatalogStore, 'insertResource'>, body: ResourceInput, egress: EgressCheck = { denyPrivate: false }, secretsAllowed = true): Promise<Resource> {
  const checked = checkedResource(body);
  checkSecretsAllowed({}, checked, secretsAllowed);
  await checkPeers(egress, checked);
  return store.insertResource({ ...checked, resource_token: newResourceToken() }, Date.now());
}

/**
 * resources/update: each field given replaces the stored one (a block replaces the whole block), the
 * rest is kept. A secret sent back as resources/get shows it ("********") keeps the stored secret.
 * `rotate_resource_token` replaces the public token (pages holding the old one get 403 from then on). This
 * process's catalog forgets the resource, so its next send uses the new settings.
 */
export async function updateResource(
  { store, catalog, egress = { denyPrivate: false } }: { store: Pick<CatalogStore, 'getResource' | 'updateResource'>; catalog: Pick<Catalog, 'forgetResource'>; egress?: EgressCheck },
  body: Partial<ResourceInput> & { id: number; rotate_resource_token?: boolean },
  secretsAllowed = true,
): Promise<Resource> {
  const r = await loadResource(store, body.id);
  const next = checkedResource({
    name: body.name ?? r.name,
    channels: body.channels ?? r.channels,
    email: (body.email != null ? restoreSecrets('email', body.email, r.email) : r.email ?? undefined) as ResourceInput['email'],
    sms: body.sms !== undefined ? restoreSecrets('sms', body.sms, r.sms) : r.sms,
    push: body.push !== undefined ? restoreSecrets('push', body.push, r.push) : r.push,
    tracking_domain: body.tracking_domain !== undefined ? body.tracking_domain : r.tracking_domain,
  });
  checkSecretsAllowed(r, next, secretsAllowed);
  await checkPeers(egress, next, r);
  const updated = { ...r, ...next, resource_token: body.rotate_resource_token === true ? newResourceToken() : r.resource_token };
  await store.updateResource(updated);
  catalog.forgetResource(updated.id);
  return updated;
}

/** A resource as the API shows it: secrets as "********" (core/resource-secrets.ts). */
export const resourceView = (r: Resource) =>
  redactSettings({
    id: r.id,
    name: r.name,
    channels: r.channels,
    email: r.email,
    sms: r.sms,
    push: r.push,
    tracking_domain: r.tracking_domain,
    resource_token: r.resource_token,
    created: iso(r.created_at),
  });

export async function loadResource(store: Pick<CatalogStore, 'getResource'>, id: number): Promise<Resource> {
  const r = await store.getResource(id);
  if (!r) throw notFound(`resource ${id} not found`);
  return r;
}

export async function addTemplate(store: Pick<CatalogStore, 'insertTemplate'>, body: { name: string; channels: ChannelInput[] }): Promise<Template> {
  if (body.channels.length === 0) throw badRequest('channels must have at least one channel');
  return store.insertTemplate({ name: body.name, channels: checkTemplateChannels(body.channels) }, Date.now());
}

/**
 * A saved template's warnings (core/template/warnings.ts): `{lead.X}` where no database has a field X,
 * `{subscription.X}` that is no subscription field. Saved all the same: an unknown variable prints nothing.
 */
export async function warningsOf(store: Pick<CatalogStore, 'listDatabases'>, t: Template): Promise<string[]> {
  const fields = new Set<string>([...SYSTEM_FIELDS.map((f) => f.name), '_status', '_md5', '_xxh']);
  for (const db of await store.listDatabases()) for (const f of db.fields) fields.add(f.name);
  return templateWarnings(t.channels, fields);
}

export async function loadTemplate(store: Pick<CatalogStore, 'getTemplate'>, id: number): Promise<Template> {
  const t = await store.getTemplate(id);
  if (!t) throw notFound(`template ${id} not found`);
  return t;
}

/**
 * templates/update: a channel given replaces that channel; channels not given are kept. This process's
 * catalog forgets the template, so its next launch renders the new one.
 */
export async function updateTemplate(
  { store, catalog }: { store: Pick<CatalogStore, 'getTemplate' | 'updateTemplate'>; catalog: Pick<Catalog, 'forgetTemplate'> },
  body: { id: number; name?: string; channels?: ChannelInput[] },
): Promise<Template> {
  const t = await loadTemplate(store, body.id);
  const channels = body.channels ? { ...t.channels, ...checkTemplateChannels(body.channels) } : t.channels;
  const updated = { ...t, name: body.name ?? t.name, channels, updated_at: Date.now() };
  await store.updateTemplate(updated);
  catalog.forgetTemplate(updated.id);
  return updated;
}

export const templateView = (t: Template) => ({
  id: t.id,
  name: t.name,
  channels: templateChannelsView(t.channels),
  created: iso(t.created_at),
  updated: iso(t.updated_at),
});

/** What the rows that keep an entry in use are, as a refusal names them. */
const USING_ROWS: Record<CatalogKind, string> = { template: 'messages not yet sent', resource: 'subscriptions', database: 'profiles in it' };

/** Why an entry cannot be deleted (`template 3 is used by campaigns 4, 7`), or null when nothing uses it. */
function stillUsed(kind: CatalogKind, id: number, u: EntryUsers): string | null {
  const uses: string[] = [];
  if (u.campaigns.length) uses.push(`campaigns ${u.campaigns.join(', ')}`);
  if (u.deletedCampaigns.length) {
    uses.push(`deleted campaigns ${u.deletedCampaigns.join(', ')} (kept for their statistics until SALVO_RETAIN_LAUNCHES purges their launches)`);
  }
  if (u.rows > 0) uses.push(`${u.rows > COUNT_CAP ? `more than ${COUNT_CAP}` : u.rows} ${USING_ROWS[kind]}`);
  return uses.length ? `${kind} ${id} is used by ${uses.join(', ')}` : null;
}

type DeleteStore = Transactions<Pick<CatalogStore, 'usersOfTemplate' | 'usersOfResource' | 'usersOfDatabase' | 'deleteCatalogEntry'>>;

/**
 * templates/delete, resources/delete, databases/delete: refused (409, naming the users) while anything
 * uses the entry; checked and deleted in one transaction, so nothing starts using it in between on
 * SQLite (on PostgreSQL the foreign keys refuse a campaign or profile written meanwhile). This process's
 * catalog forgets it at once; other processes' within the cache's second, as after an update.
 */
export async function deleteCatalogEntry(
  { store, catalog }: { store: DeleteStore; catalog: Pick<Catalog, 'forget'> },
  kind: CatalogKind,
  id: number,
): Promise<void> {
  await store.transaction(async (tx) => {
    const users = await (kind === 'template' ? tx.usersOfTemplate(id) : kind === 'resource' ? tx.usersOfResource(id) : tx.usersOfDatabase(id));
    const refusal = stillUsed(kind, id, users);
    if (refusal) throw conflict(refusal);
    if (!(await tx.deleteCatalogEntry(kind, id))) throw notFound(`${kind} ${id} not found`);
  });
  catalog.forget(kind, id);
}
