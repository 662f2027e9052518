/**
 * What launches and sends read again and again: campaigns, databases, templates, resources, each by
 * id through a short-lived cache (see support/cache.ts). Launch content and attachments never change, but
 * they can be large (up to SALVO_CONTENT_LIMIT and SALVO_ATTACH_LIMIT each), so those two caches are
 * bounded by total bytes as well as entries, and let go of a launch a few seconds after its last
 * send read it.
 */
import type { Attachment } from '../core/attachments.ts';
import type { Campaign, Database, Launch, Resource, Template } from '../core/types.ts';
import type { CampaignStore, CatalogStore, LaunchStore } from '../store/store.ts';
import { Cache } from '../support/cache.ts';

const LAUNCH_TTL_MS = 10_000;
export const LAUNCH_CACHE_BYTES = 32 * 1024 * 1024;
const ATTACHMENT_CACHE_BYTES = 64 * 1024 * 1024;

/** About the bytes a launch holds: its JSON parts as text (two bytes a character would be an upper bound). */
function launchWeight(l: Launch | null): number {
  if (!l) return 64;
  return 256 + JSON.stringify(l.content).length + (l.custom_data ? JSON.stringify(l.custom_data).length : 0) + (l.audience ? JSON.stringify(l.audience).length : 0);
}

const attachmentWeight = (files: Attachment[]) => files.reduce((n, f) => n + f.data.length + f.name.length + 64, 64);

/** What the catalog reads through its caches. */
export type CatalogReads = Pick<CatalogStore, 'getDatabase' | 'getTemplate' | 'getResource'> &
  Pick<CampaignStore, 'getCampaign'> &
  Pick<LaunchStore, 'getLaunch' | 'getAttachments'>;

export class Catalog {
  private readonly campaigns = new Cache<number, Campaign | null>({ ttlMs: 1000 });
  private readonly databases = new Cache<number, Database | null>({ ttlMs: 1000 });
  private readonly templates = new Cache<number, Template | null>({ ttlMs: 1000 });
  private readonly resources = new Cache<number, Resource | null>({ ttlMs: 1000 });
  readonly launches = new Cache<number, Launch | null>({ ttlMs: LAUNCH_TTL_MS, maxEntries: 1000, maxWeight: LAUNCH_CACHE_BYTES, weigh: launchWeight });
  readonly attachments = new Cache<number, Attachment[]>({ ttlMs: LAUNCH_TTL_MS, maxEntries: 100, maxWeight: ATTACHMENT_CACHE_BYTES, weigh: attachmentWeight });

  constructor(private readonly store: CatalogReads) {}

  campaign = (id: number) => this.campaigns.get(id, (k) => this.store.getCampaign(k));
  database = (id: number) => this.databases.get(id, (k) => this.store.getDatabase(k));
  template = (id: number) => this.templates.get(id, (k) => this.store.getTemplate(k));
  resource = (id: number) => this.resources.get(id, (k) => this.store.getResource(k));
  launch = (id: number) => this.launches.get(id, (k) => this.store.getLaunch(k));
  attachmentsOf = (launchId: number) => this.attachments.get(launchId, (k) => this.store.getAttachments(k));

  /** Of `ids`, the launches not held now: what a claim reads with its profiles. */
  unknownLaunches(ids: number[]): number[] {
    return [...new Set(ids)].filter((id) => !this.launches.has(id) || !this.attachments.has(id));
  }

  /**
   * A launch read with a claim (store launchesToSend): kept as if read by `launch`, and, when it has no
   * attachments, its empty list too, so composing its messages reads neither.
   */
  async knowLaunch(launch: Launch, hasAttachments: boolean): Promise<void> {
    await this.launches.get(launch.id, async () => launch);
    if (!hasAttachments) await this.attachments.get(launch.id, async () => []);
  }

  /** Called after this process changes a campaign or template, so it sees the change at once. */
  forgetCampaign(id: number): void {
    this.campaigns.delete(id);
  }
  forgetTemplate(id: number): void {
    this.templates.delete(id);
  }
  forgetResource(id: number): void {
    this.resources.delete(id);
  }
  /** After a delete: the entry's cached copy goes, so this process stops using it at once. */
  forget(kind: 'template' | 'resource' | 'database', id: number): void {
    ({ template: this.templates, resource: this.resources, database: this.databases })[kind].delete(id);
  }
}
