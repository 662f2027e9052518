/**
 * What launches and sends read again and again: campaigns, databases, templates, resources, each by
 * id through a short-lived cache (see cache.ts). Launch content and attachments never change, so they
 * are kept longer.
 */
import type { Attachment } from '../core/attachments.ts';
import type { Campaign, Database, Launch, Resource, Template } from '../core/types.ts';
import type { Store } from '../store/store.ts';
import { Cache } from './cache.ts';

export class Catalog {
  private readonly campaigns = new Cache<number, Campaign | null>(1000);
  private readonly databases = new Cache<number, Database | null>(1000);
  private readonly templates = new Cache<number, Template | null>(1000);
  private readonly resources = new Cache<number, Resource | null>(1000);
  private readonly launches = new Cache<number, Launch | null>(60_000, 10_000);
  private readonly attachments = new Cache<number, Attachment[]>(60_000, 100);

  constructor(readonly store: Store) {}

  campaign = (id: number) => this.campaigns.get(id, (k) => this.store.getCampaign(k));
  database = (id: number) => this.databases.get(id, (k) => this.store.getDatabase(k));
  template = (id: number) => this.templates.get(id, (k) => this.store.getTemplate(k));
  resource = (id: number) => this.resources.get(id, (k) => this.store.getResource(k));
  launch = (id: number) => this.launches.get(id, (k) => this.store.getLaunch(k));
  attachmentsOf = (launchId: number) => this.attachments.get(launchId, (k) => this.store.getAttachments(k));

  /** Called after this process changes a campaign or template, so it sees the change at once. */
  forgetCampaign(id: number): void {
    this.campaigns.delete(id);
  }
  forgetTemplate(id: number): void {
    this.templates.delete(id);
  }
}
