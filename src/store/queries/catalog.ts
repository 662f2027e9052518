/** Databases, resources and templates: the things set up once and read on every launch. */
import type { Database, FieldDef, Resource, Template, TemplateChannels } from '../../core/types.ts';
import { chunks, placeholders, type Row, type SqlDriver } from '../driver.ts';
import { json, uniqueName } from './rows.ts';

const toDatabase = (r: Row): Database => ({
  id: r.id as number,
  name: r.name as string,
  fields: json<FieldDef[]>(r.fields),
  created_at: r.created_at as number,
});

const toResource = (r: Row): Resource => ({
  id: r.id as number,
  name: r.name as string,
  channels: json(r.channels),
  email: json(r.email),
  sms: json(r.sms),
  push: json(r.push),
  tracking_domain: (r.tracking_domain as string | null) ?? null,
  resource_token: r.resource_token as string,
  created_at: r.created_at as number,
});

const toTemplate = (r: Row): Template => ({
  id: r.id as number,
  name: r.name as string,
  channels: json<TemplateChannels>(r.channels),
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
});

/** Databases, resources and templates: set up once, read on every launch and send. */
export interface CatalogStore {
  insertDatabase(d: { name: string; fields: FieldDef[] }, now: number): Promise<Database>;
  getDatabase(id: number): Promise<Database | null>;
  /** Renames a database and sets its fields (databases/update adds fields; none is removed or changed). */
  updateDatabase(d: Pick<Database, 'id' | 'name' | 'fields'>): Promise<void>;
  listDatabases(): Promise<Database[]>;
  insertResource(r: Omit<Resource, 'id' | 'created_at'>, now: number): Promise<Resource>;
  /** resources/update: every field but id and created_at as given. */
  updateResource(r: Resource): Promise<void>;
  getResource(id: number): Promise<Resource | null>;
  getResources(ids: number[]): Promise<Map<number, Resource>>;
  /** The resource whose resource_token this is (an exact match through the unique index), or null. */
  getResourceByToken(token: string): Promise<Resource | null>;
  listResources(): Promise<Resource[]>;
  insertTemplate(t: { name: string; channels: TemplateChannels }, now: number): Promise<Template>;
  updateTemplate(t: Template): Promise<void>;
  getTemplate(id: number): Promise<Template | null>;
  listTemplates(): Promise<Template[]>;
  /** What still uses a catalog entry, so that deleting it is refused naming it (empty lists: nothing). */
  usersOfTemplate(id: number): Promise<EntryUsers>;
  usersOfResource(id: number): Promise<EntryUsers>;
  usersOfDatabase(id: number): Promise<EntryUsers>;
  /** Deletes an entry nothing uses (the caller checked, in the same transaction); answers whether it existed. */
  deleteCatalogEntry(kind: CatalogKind, id: number): Promise<boolean>;
}

export type CatalogKind = 'template' | 'resource' | 'database';

/** What uses a catalog entry: live campaigns, deleted campaigns kept for their statistics, and counts of rows. */
export interface EntryUsers {
  campaigns: number[];
  deletedCampaigns: number[];
  /** Subscriptions (of a resource), profiles (of a database), messages not yet sent (of a template); counted up to COUNT_CAP + 1. */
  rows: number;
}

const OPEN = "('queued', 'waiting', 'sending')";

/** Counts stop past this many: a refusal needs to say "some", not scan a million rows inside a write. */
export const COUNT_CAP = 1000;
const capped = (from: string) => `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${from} LIMIT ${COUNT_CAP + 1}) t`;

const TABLES: Record<CatalogKind, string> = { template: 'templates', resource: 'resources', database: 'databases' };

/** Live and deleted campaigns apart, from rows of (id, deleted_at). */
function byState(rows: { id: number; deleted_at: number | null }[]): Pick<EntryUsers, 'campaigns' | 'deletedCampaigns'> {
  return {
    campaigns: rows.filter((r) => r.deleted_at === null).map((r) => Number(r.id)),
    deletedCampaigns: rows.filter((r) => r.deleted_at !== null).map((r) => Number(r.id)),
  };
}

export function catalogQueries(db: SqlDriver): CatalogStore {
  return {
    async insertDatabase(d: { name: string; fields: FieldDef[] }, now: number): Promise<Database> {
      const row = await uniqueName('database', d.name, () =>
        db.get('INSERT INTO databases (name, fields, created_at) VALUES (?, ?, ?) RETURNING *', [d.name, JSON.stringify(d.fields), now]),
      );
      return toDatabase(row!);
    },
    async getDatabase(id: number): Promise<Database | null> {
      const r = await db.get('SELECT * FROM databases WHERE id = ?', [id]);
      return r ? toDatabase(r) : null;
    },
    async updateDatabase(d: Pick<Database, 'id' | 'name' | 'fields'>): Promise<void> {
      await uniqueName('database', d.name, () => db.run('UPDATE databases SET name = ?, fields = ? WHERE id = ?', [d.name, JSON.stringify(d.fields), d.id]));
    },
    async listDatabases(): Promise<Database[]> {
      return (await db.all('SELECT * FROM databases ORDER BY id')).map(toDatabase);
    },

    async insertResource(r: Omit<Resource, 'id' | 'created_at'>, now: number): Promise<Resource> {
      const row = await uniqueName('resource', r.name, () =>
        db.get(
          `INSERT INTO resources (name, channels, email, sms, push, tracking_domain, resource_token, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          [r.name, JSON.stringify(r.channels), r.email && JSON.stringify(r.email), r.sms && JSON.stringify(r.sms), r.push && JSON.stringify(r.push), r.tracking_domain, r.resource_token, now],
        ),
      );
      return toResource(row!);
    },
    async updateResource(r: Resource): Promise<void> {
      await uniqueName('resource', r.name, () =>
        db.run('UPDATE resources SET name = ?, channels = ?, email = ?, sms = ?, push = ?, tracking_domain = ?, resource_token = ? WHERE id = ?', [
          r.name, JSON.stringify(r.channels), r.email && JSON.stringify(r.email), r.sms && JSON.stringify(r.sms), r.push && JSON.stringify(r.push), r.tracking_domain, r.resource_token, r.id,
        ]),
      );
    },
    async getResource(id: number): Promise<Resource | null> {
      const r = await db.get('SELECT * FROM resources WHERE id = ?', [id]);
      return r ? toResource(r) : null;
    },
    async getResources(ids: number[]): Promise<Map<number, Resource>> {
      const out = new Map<number, Resource>();
      for (const part of chunks([...new Set(ids)])) {
        for (const r of await db.all(`SELECT * FROM resources WHERE id IN (${placeholders(part.length)})`, part)) {
          out.set(r.id as number, toResource(r));
        }
      }
      return out;
    },
    async getResourceByToken(token: string): Promise<Resource | null> {
      const r = await db.get('SELECT * FROM resources WHERE resource_token = ?', [token]);
      return r ? toResource(r) : null;
    },
    async listResources(): Promise<Resource[]> {
      return (await db.all('SELECT * FROM resources ORDER BY id')).map(toResource);
    },

    async insertTemplate(t: { name: string; channels: TemplateChannels }, now: number): Promise<Template> {
      const row = await uniqueName('template', t.name, () =>
        db.get('INSERT INTO templates (name, channels, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING *', [t.name, JSON.stringify(t.channels), now, now]),
      );
      return toTemplate(row!);
    },
    async updateTemplate(t: Template): Promise<void> {
      await uniqueName('template', t.name, () =>
        db.run('UPDATE templates SET name = ?, channels = ?, updated_at = ? WHERE id = ?', [t.name, JSON.stringify(t.channels), t.updated_at, t.id]),
      );
    },
    async getTemplate(id: number): Promise<Template | null> {
      const r = await db.get('SELECT * FROM templates WHERE id = ?', [id]);
      return r ? toTemplate(r) : null;
    },
    async listTemplates(): Promise<Template[]> {
      return (await db.all('SELECT * FROM templates ORDER BY id')).map(toTemplate);
    },

    async usersOfTemplate(id: number): Promise<EntryUsers> {
      // A campaign names its templates inside its content (JSON, whose functions differ by dialect): campaigns
      // are few, so they are read and looked through here. Deleted ones render nothing any more.
      const live = await db.all<{ id: number; content: string }>('SELECT id, content FROM campaigns WHERE deleted_at IS NULL ORDER BY id');
      const campaigns = live.filter((c) => json<{ message_id: number }[]>(c.content).some((item) => item.message_id === id)).map((c) => Number(c.id));
      // A message renders its template when it is sent: one not sent yet still needs it.
      const open = await db.get<{ n: number }>(capped(`messages WHERE template_id = ? AND status IN ${OPEN}`), [id]);
      return { campaigns, deletedCampaigns: [], rows: Number(open!.n) };
    },
    async usersOfResource(id: number): Promise<EntryUsers> {
      const campaigns = await db.all<{ id: number; deleted_at: number | null }>('SELECT id, deleted_at FROM campaigns WHERE resource_id = ? ORDER BY id', [id]);
      const subscriptions = await db.get<{ n: number }>(capped('subscriptions WHERE resource_id = ?'), [id]);
      return { ...byState(campaigns), rows: Number(subscriptions!.n) };
    },
    async usersOfDatabase(id: number): Promise<EntryUsers> {
      const campaigns = await db.all<{ id: number; deleted_at: number | null }>('SELECT id, deleted_at FROM campaigns WHERE db_id = ? ORDER BY id', [id]);
      const profiles = await db.get<{ n: number }>(capped('profiles WHERE db_id = ?'), [id]);
      return { ...byState(campaigns), rows: Number(profiles!.n) };
    },
    async deleteCatalogEntry(kind: CatalogKind, id: number): Promise<boolean> {
      return (await db.run(`DELETE FROM ${TABLES[kind]} WHERE id = ?`, [id])) === 1;
    },
  };
}
