/**
 * Dry runs (`dry_run: true` on the trigger calls): the launch's own code runs — validation, the
 * content filter, audience resolution (custom_request too), subscription choice, the A/B variant and
 * the render of the first recipients — and nothing is stored or sent. The writes of a real launch are
 * at its edges (writeLaunch, the expansion's commit, the task's); a dry run stops before them.
 *
 * import_and_start computes its import with the import's own code inside a transaction that is always
 * rolled back, so the subscriptions and fields the import would write decide the preview exactly;
 * nothing of it is ever committed or seen by another reader.
 */
import { notFound } from '../core/errors.ts';
import { campaignIdOf, parseBatchContent, passesContentFilter, type LaunchParams } from '../core/launch-request.ts';
import { compileQuery } from '../core/mongo-query.ts';
import type { ProviderDefaults } from '../core/resource-settings.ts';
import { renderContextOf } from '../core/message.ts';
import type { RenderLimits } from '../core/template/render.ts';
import { renderWarnings } from '../core/templates.ts';
import type { Campaign, Database, NewMessage, Profile, Template } from '../core/types.ts';
import type { ProfileStore, Store } from '../store/store.ts';
import { audiencePages, resolveSingle } from './audience.ts';
import { itemErrors, type BatchResult } from './batch.ts';
import { Catalog } from './catalog.ts';
import { ComposeError, composeMessage, type LinkSigning } from './compose.ts';
import { campaignDatabase, launchableCampaign, type SmsShape } from './launch.ts';
import { inTurns } from './in-turns.ts';
import { PRIORITY, messagesFor } from './recipients.ts';
import { importAndStartPlan, prepareBatch, processItems, type BatchKind, type BatchOptions, type BatchRequest, type ImportAndStartRequest, type LaunchLimits } from './tasks.ts';

/** Recipients whose message a dry run renders. */
const PREVIEW = 10;
/** Profiles read per page of a custom_request (the expansion's page size). */
const PAGE_SIZE = 1000;

export interface DryRunDeps {
  store: Store;
  catalog: Catalog;
  links?: LinkSigning;
  smsShape?: SmsShape;
}

export interface DryRunLimits {
  /** How long a dry run may read a custom_request audience (SALVO_DRY_RUN_SECONDS). */
  dryRunMs: number;
  renderLimits: RenderLimits;
  providerDefaults?: ProviderDefaults;
}

export interface PreviewItem {
  /** null for a profile import_and_start would create (its id is given when it is). */
  profile_id: string | null;
  channel: string;
  address: string | null;
  variant: number | null;
  template_id: number | null;
  subject: string | null;
  text: string | null;
  html: string | null;
  /** Email: the From address as it is sent ("Name <address>"). */
  from: string | null;
  /** Email: the headers Salvo adds (List-Unsubscribe, List-Unsubscribe-Post), as sent. */
  headers: Record<string, string> | null;
  /** An SMS as SMPP would carry it: its alphabet and how many parts it takes. */
  sms?: { encoding: string; parts: number };
}

export interface DryRunAnswer {
  /** Recipients the call reaches: queued + skipped. */
  audience: number;
  /** Messages that would be sent (import_and_start's timeout: sent later). */
  queued: number;
  skipped: number;
  skip_reasons: Record<string, number>;
  preview: PreviewItem[];
  /** Batch items that fail (as a real call reports them), and previewed messages that fail to render. */
  errors: { index?: number; profile_id?: string | null; error: number; error_text: string }[];
  /** false: the content does not match the campaign's content_filter; a real call sends nothing. */
  filtered: boolean;
  /**
   * Variables of the previewed messages' templates that resolve to nothing with their content and
   * profile (`{apicontent.ordr}` when the content has `order`), each once, saying where.
   */
  warnings: string[];
  /** false: SALVO_DRY_RUN_SECONDS ran out before the custom_request audience was read to the end; the counts are of what was read. */
  complete: boolean;
}

/** Counts message rows as they come, keeping the first few that would be sent to preview. */
class Tally {
  queued = 0;
  skipped = 0;
  readonly reasons: Record<string, number> = {};
  readonly sample: NewMessage[] = [];
  readonly profiles = new Map<string, Profile>();

  add(rows: NewMessage[], profiles?: Profile[]): void {
    const byId = profiles && new Map(profiles.map((p) => [p.id, p]));
    for (const r of rows) {
      if (r.status === 'skipped') {
        this.skipped++;
        this.reasons[r.skip_reason ?? 'unknown'] = (this.reasons[r.skip_reason ?? 'unknown'] ?? 0) + 1;
        continue;
      }
      this.queued++;
      if (this.sample.length < PREVIEW) {
        this.sample.push(r);
        const p = byId?.get(r.profile_id);
        if (p) this.profiles.set(p.id, p);
      }
    }
  }

  skipAll(n: number, reason: string): void {
    this.skipped += n;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + n;
  }

  answer(preview: Pick<DryRunAnswer, 'preview' | 'errors' | 'warnings'>, o: { filtered?: boolean; complete?: boolean; errors?: DryRunAnswer['errors'] } = {}): DryRunAnswer {
    return {
      audience: this.queued + this.skipped,
      queued: this.queued,
      skipped: this.skipped,
      skip_reasons: this.reasons,
      preview: preview.preview,
      errors: [...(o.errors ?? []), ...preview.errors],
      warnings: preview.warnings,
      filtered: o.filtered ?? false,
      complete: o.complete ?? true,
    };
  }
}

const NO_PREVIEW = { preview: [], errors: [], warnings: [] };

const fieldNames = (db: Database) => new Set(db.fields.map((f) => f.name));

/**
 * Renders the sampled messages as the dispatcher would send them. `view` is the store as the launch sees
 * it; `catalog` reads templates and resources (inside a transaction, through it: on SQLite a read from
 * outside would wait for the transaction, which waits for the read).
 */
async function previewOf(
  view: Pick<ProfileStore, 'getProfiles' | 'getSubscriptions'>,
  deps: Omit<DryRunDeps, 'catalog'> & { catalog: Pick<Catalog, 'template' | 'resource'> },
  campaign: Campaign,
  /** The campaign database's custom fields: a `{lead.X}` it declares is no warning when a profile has no value. */
  leadFields: ReadonlySet<string>,
  apicontent: Record<string, unknown>,
  tally: Tally,
  limits: DryRunLimits,
): Promise<Pick<DryRunAnswer, 'preview' | 'errors' | 'warnings'>> {
  const ids = tally.sample.map((r) => r.profile_id);
  const missing = ids.filter((id) => !tally.profiles.has(id));
  for (const p of missing.length ? await view.getProfiles(missing) : []) tally.profiles.set(p.id, p);
  const subscriptions = ids.length ? await view.getSubscriptions(ids) : [];
  const preview: PreviewItem[] = [];
  const errors: DryRunAnswer['errors'] = [];
  const warnings = new Set<string>();
  for (const m of tally.sample) {
    const profile = tally.profiles.get(m.profile_id);
    const own = subscriptions.filter((s) => s.profile_id === m.profile_id);
    const to = own.find((s) => s.id === m.subscription_id);
    const item = { profile_id: m.profile_id, channel: m.channel, address: m.address, variant: m.variant, template_id: m.template_id };
    try {
      // Removed by another request since it was read: the real message would fail the same way.
      if (!profile || !to) throw new ComposeError(`profile ${m.profile_id} or its subscription no longer exists`);
      const { rendered, template } = await composeMessage(deps.catalog, campaign, m, apicontent, { profile, to, subscriptions: own }, {
        limits: limits.renderLimits,
        providerDefaults: limits.providerDefaults,
        // No message yet: the preview's links name none (they answer 404), but show what the mail will carry.
        ...(deps.links ? { links: { ...deps.links, messageId: null } } : {}),
      });
      if (rendered.channel === 'email') {
        const from = rendered.from.name ? `${rendered.from.name} <${rendered.from.email}>` : rendered.from.email;
        preview.push({ ...item, subject: rendered.subject, text: rendered.text ?? null, html: rendered.html ?? null, from, headers: rendered.headers ?? {} });
      } else {
        const [subject, text] = rendered.channel === 'sms' ? [null, rendered.text] : [rendered.title, rendered.body];
        const sms = rendered.channel === 'sms' && deps.smsShape ? deps.smsShape(rendered.text) : undefined;
        preview.push({ ...item, subject, text: text ?? null, html: null, from: null, headers: null, ...(sms ? { sms } : {}) });
      }
      for (const w of renderWarnings(template.channels, campaign.send_channel, renderContextOf(profile, m.overrides, apicontent, to, own), leadFields)) warnings.add(w);
    } catch (e) {
      errors.push({ profile_id: m.profile_id, error: 400, error_text: (e as Error).message });
    }
  }
  return { preview, errors, warnings: [...warnings] };
}

/** campaigns/triggers/start with dry_run: what the launch would do, for one profile or a custom_request audience. */
export async function dryRunStart(deps: DryRunDeps, campaignId: number, p: LaunchParams, limits: DryRunLimits): Promise<DryRunAnswer> {
  return dryRunOf(deps, await launchableCampaign(deps.catalog, campaignId), p, limits);
}

/**
 * templates/preview: the dry run of a template as edited, before it is saved: campaign `campaignId`
 * (active or not) sends `template` as its only content, so the recipient, the subscription choice, the
 * sender and the render are the campaign's, and the answer is a dry run's (preview, warnings, errors).
 */
export async function previewTemplate(deps: DryRunDeps, campaignId: number, template: Template, p: LaunchParams, limits: DryRunLimits): Promise<DryRunAnswer> {
  const stored = await deps.catalog.campaign(campaignId);
  if (!stored) throw notFound(`trigger campaign ${campaignId} not found`);
  const campaign: Campaign = { ...stored, content: [{ message_id: template.id }] };
  // The catalog as it is, but for this template: the edited one stands in for the stored one (or a new one, id 0).
  const catalog: Catalog = Object.create(deps.catalog);
  catalog.template = async (id: number) => (id === template.id ? template : deps.catalog.template(id));
  return dryRunOf({ ...deps, catalog }, campaign, p, limits);
}

async function dryRunOf(deps: DryRunDeps, campaign: Campaign, p: LaunchParams, limits: DryRunLimits): Promise<DryRunAnswer> {
  const now = Date.now();
  const db = await campaignDatabase(deps.catalog, campaign);
  const tally = new Tally();
  if (!passesContentFilter(campaign, p.content)) return tally.answer(NO_PREVIEW, { filtered: true });

  if (p.audience.kind === 'single') {
    const profile = await resolveSingle(deps.store, db, p.audience.match);
    tally.add(await messagesFor(deps.store, campaign, [profile], p.filter, { now, priority: PRIORITY.trigger }), [profile]);
    return tally.answer(await previewOf(deps.store, deps, campaign, fieldNames(db), p.content, tally, limits));
  }

  const query = p.audience.query;
  compileQuery(query, 'custom_request');
  // Page by page, as the expansion reads it: memory holds one page and the preview, whatever the audience.
  const deadline = now + limits.dryRunMs;
  let complete = true;
  for await (const page of audiencePages(deps.store, db, query, PAGE_SIZE)) {
    tally.add(await messagesFor(deps.store, campaign, page.profiles, null, { now, priority: PRIORITY.audience }), page.profiles);
    if (page.next !== null && Date.now() >= deadline) {
      complete = false;
      break;
    }
  }
  if (complete && tally.queued + tally.skipped === 0) throw notFound('no profile matches custom_request');
  return tally.answer(await previewOf(deps.store, deps, campaign, fieldNames(db), p.content, tally, limits), { complete });
}

class RollBack extends Error {
  constructor(readonly answer: DryRunAnswer) {
    super('dry run');
  }
}

/** start_batch and import_and_start_batch with dry_run; their _task forms too: a dry run stores nothing, so there is no task to follow. */
export async function dryRunLaunchBatch(deps: DryRunDeps, kind: BatchKind, request: BatchRequest, limits: LaunchLimits & DryRunLimits): Promise<DryRunAnswer> {
  const campaignId = campaignIdOf(request);
  return dryRunBatch(deps, kind, campaignId, request, request.data, await inTurns(parseBatchContent(request, limits)), limits);
}

/** import_and_start with dry_run: the one-item batch it runs, rolled back. */
export async function dryRunImportAndStart(deps: DryRunDeps, request: ImportAndStartRequest, limits: LaunchLimits & DryRunLimits): Promise<DryRunAnswer> {
  const { campaignId, body, items, p, o } = await importAndStartPlan(request, limits);
  return dryRunBatch(deps, 'import_and_start_batch', campaignId, body, items, p, limits, o);
}

/** start_batch and import_and_start(_batch) with dry_run, once the request is read. */
async function dryRunBatch(
  deps: DryRunDeps,
  kind: BatchKind,
  campaignId: number,
  body: Record<string, unknown>,
  items: unknown[],
  p: Pick<LaunchParams, 'content'>,
  limits: DryRunLimits,
  o: BatchOptions = {},
): Promise<DryRunAnswer> {
  const now = Date.now();
  const { campaign, ctx } = await prepareBatch(deps, kind, campaignId, body, o);
  // Read before the transaction below: on SQLite a read outside it would wait for it to end.
  const leadFields = fieldNames(await campaignDatabase(deps.catalog, campaign));
  const tally = new Tally();
  if (!passesContentFilter(campaign, p.content)) {
    tally.skipAll(items.length, 'content_filter');
    return tally.answer(NO_PREVIEW, { filtered: true });
  }
  const run = async (view: Parameters<typeof processItems>[1], catalog: Pick<Catalog, 'template' | 'resource'>) => {
    const outcome = await processItems(kind, view, ctx, items, 0, now);
    tally.add(outcome.rows);
    const errors = itemErrors(outcome.results as BatchResult[], 0).map(({ index, error, error_text }) => ({ index, error, error_text }));
    return tally.answer(await previewOf(view, { ...deps, catalog }, campaign, leadFields, p.content, tally, limits), { errors });
  };
  if (kind === 'start_batch') return run(deps.store, deps.catalog);
  let answer: DryRunAnswer;
  try {
    await deps.store.transaction(async (tx) => {
      // The preview's templates and resource are read through the transaction, not the shared catalog.
      throw new RollBack(await run(tx, new Catalog(tx)));
    });
    throw new Error('unreachable: a dry run always rolls back');
  } catch (e) {
    if (!(e instanceof RollBack)) throw e;
    answer = e.answer;
  }
  // Profiles the import would create have no id until it does.
  const previewed = answer.preview.flatMap((i) => (i.profile_id ? [i.profile_id] : []));
  const existing = new Set((previewed.length ? await deps.store.getProfiles(previewed) : []).map((x) => x.id));
  const id = (pid: string | null | undefined) => (pid && existing.has(pid) ? pid : null);
  return { ...answer, preview: answer.preview.map((i) => ({ ...i, profile_id: id(i.profile_id) })), errors: answer.errors.map((e) => ('profile_id' in e ? { ...e, profile_id: id(e.profile_id) } : e)) };
}
