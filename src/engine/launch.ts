/**
 * A launch: a trigger call turned into stored messages. Everything a successful answer promises is
 * committed before the answer: the launch, its attachments, and a message row per recipient (queued,
 * or skipped with the reason). A custom_request audience is stored as the launch's query and
 * expanded in pages, the first ones at once and the rest in the background (expansion.ts, expander.ts).
 */
import { badRequest, notFound } from '../core/errors.ts';
import { passesContentFilter, type LaunchContent, type LaunchParams } from '../core/launch-request.ts';
import { compileQuery } from '../core/mongo-query.ts';
import type { Campaign, Database, Launch, NewMessage } from '../core/types.ts';
import type { DedupMark, DedupSeal } from '../store/queries/dedup.ts';
import type { NewLaunch } from '../store/queries/launches.ts';
import type { AttachmentFileStore, DedupStore, LaunchStore, MatchStore, Store, Transactions } from '../store/store.ts';
import { withAttachmentFiles } from './attachment-files.ts';
import { resolveSingleWithSubscriptions } from './audience.ts';
import type { Catalog } from './catalog.ts';
import type { LinkSigning } from './compose.ts';
import { expandStep, failExpansion, type ExpansionAreas } from './expansion.ts';
import { PRIORITY, messagesFor } from './recipients.ts';
import type { Wake } from './loops.ts';

/** The store areas a launch reads and writes: the audience's profiles, the launch, its files and its messages, the campaign log. */
export type LaunchAreas = ExpansionAreas &
  MatchStore &
  Pick<LaunchStore, 'insertLaunch' | 'insertAttachments' | 'insertLaunchWithMessages' | 'leaseLaunch'> &
  Pick<AttachmentFileStore, 'storeAttachmentFile'> &
  Pick<DedupStore, 'sealDedup' | 'markDedupLaunch'>;

/**
 * The request's deduplication key, when it has one (http/dedup.ts). A launch written in one
 * transaction seals it there: the key is claimed and the answer kept by the commit that stores the
 * launch. A launch that spans transactions (a custom_request) claims it before its first write, and
 * that write marks the claim with the launch, so that a repeat after a crash answers with it rather
 * than launching again (engine/dedup.ts). Both throw DuplicateRequest when another request with the key ran first.
 */
export interface RequestKey {
  seal(): DedupSeal;
  claim(): Promise<DedupMark>;
}

/** What starting a launch needs: its store areas, the catalog, and a way to wake the loops. */
export interface Launching {
  store: LaunchAreas & Transactions<LaunchAreas>;
  catalog: Catalog;
  wake: Wake;
  /** Public links of email (unsubscribe, tracking): a dry run previews them. */
  links?: LinkSigning;
  /** An SMS text's alphabet and parts as the SMS channel encodes it (the composition root gives delivery's): a dry run shows them. */
  smsShape?: SmsShape;
}

export type SmsShape = (text: string) => { encoding: string; parts: number };

/** What a caller holding the whole store (the HTTP routes) hands to the launch, batch and link use cases. */
export interface LaunchDeps extends Launching {
  store: Store;
}

export interface LaunchResult {
  launch: Launch;
  queued: number;
  skipped: number;
  /** A custom_request audience that matched nobody (the launch is recorded all the same). */
  empty: boolean;
}

/** The campaign a launch starts: it must exist, be active and be an api_call trigger. */
export async function launchableCampaign(catalog: Catalog, id: number): Promise<Campaign> {
  const c = await catalog.campaign(id);
  if (!c) throw notFound(`trigger campaign ${id} not found`);
  if (c.trigger_type !== 'api_call') throw badRequest(`campaign ${id} is an '${c.trigger_type}' trigger; only api_call campaigns start from the API`);
  if (!c.is_active) throw badRequest(`trigger campaign ${id} is not active`);
  return c;
}

export async function campaignDatabase(catalog: Catalog, c: Campaign): Promise<Database> {
  const db = await catalog.database(c.db_id);
  if (!db) throw notFound(`database ${c.db_id} of campaign ${c.id} not found`);
  return db;
}

const summary = (rows: NewMessage[]) => {
  const queued = rows.filter((r) => r.status !== 'skipped').length;
  const reasons = [...new Set(rows.filter((r) => r.skip_reason).map((r) => r.skip_reason))];
  return { queued, skipped: rows.length - queued, text: `${queued} queued${rows.length > queued ? `, ${rows.length - queued} skipped (${reasons.join(', ')})` : ''}` };
};

/** Records, inside the caller's transaction, a launch its campaign's content_filter stops: no message. */
export async function writeFilteredLaunch(
  tx: Pick<LaunchStore, 'insertLaunch'> & Pick<LaunchAreas, 'appendCampaignLog' | 'sealDedup'>,
  campaign: Campaign, p: LaunchContent, kind: string, now: number, seal: DedupSeal | null = null): Promise<Launch> {
  const l = await tx.insertLaunch({ campaign_id: campaign.id, kind, state: 'filtered', content: p.content, custom_data: p.customData, audience: null, cursor: null }, now);
  // Right after the launch row: the request's answer, naming it (throws DuplicateRequest when the key is taken).
  if (seal) await tx.sealDedup(seal, l.id);
  await tx.appendCampaignLog(campaign.id, 'warning', `launch ${l.id} (${kind}): content does not match the campaign's content_filter; nothing sent`, now);
  return l;
}

/**
 * Writes a launch whose messages are all known now: with attachments inside the caller's transaction;
 * without, in one store call that is atomic by itself (one statement on PostgreSQL).
 */
export async function writeLaunch(
  tx: Pick<LaunchStore, 'insertLaunch' | 'insertAttachments' | 'insertLaunchWithMessages'> & Pick<LaunchAreas, 'insertMessages' | 'appendCampaignLog' | 'sealDedup'>,
  campaign: Campaign,
  p: LaunchContent,
  kind: string,
  rows: NewMessage[],
  now: number,
  seal: DedupSeal | null = null,
): Promise<LaunchResult> {
  const s = summary(rows);
  const l: NewLaunch = { campaign_id: campaign.id, kind, state: 'done', content: p.content, custom_data: p.customData, audience: null, cursor: null };
  const text = `(${kind}): ${s.text}`;
  let launch: Launch;
  if (p.attachments.length) {
    // A new launch holds one row per distinct profile, so all of `rows` are added (none conflict).
    launch = await tx.insertLaunch(l, now, new Set(rows.map((r) => r.profile_id)).size);
    if (seal) await tx.sealDedup(seal, launch.id);
    await tx.insertAttachments(launch.id, p.attachments, now);
    await tx.insertMessages(launch.id, rows, now);
    await tx.appendCampaignLog(campaign.id, 'info', `launch ${launch.id} ${text}`, now);
  } else {
    launch = await tx.insertLaunchWithMessages(l, now, rows, { level: 'info', text }, seal);
  }
  return { launch, queued: s.queued, skipped: s.skipped, empty: false };
}

/** Work a custom_request launch does before answering; the rest is the expander's. */
const INLINE_ROWS = 5_000;

/**
 * How long background expanders keep off a launch while the request that made it expands its first
 * pages. Not SALVO_LEASE_SECONDS (the delivery and expansion lease): it covers one request's work of
 * at most INLINE_ROWS, and the request hands the launch back as soon as it stops, so it only counts
 * when the process dies mid-request; the launch is then taken over a minute later.
 */
const INLINE_EXPANSION_LEASE_MS = 60_000;

export async function startLaunch(deps: Launching, campaignId: number, p: LaunchParams, kind = 'start', key: RequestKey | null = null): Promise<LaunchResult> {
  const now = Date.now();
  const campaign = await launchableCampaign(deps.catalog, campaignId);
  const db = await campaignDatabase(deps.catalog, campaign);

  if (!passesContentFilter(campaign, p.content)) {
    const seal = key?.seal() ?? null;
    const launch = await deps.store.transaction((tx) => writeFilteredLaunch(tx, campaign, p, kind, now, seal));
    return { launch, queued: 0, skipped: 0, empty: false };
  }

  if (p.audience.kind === 'single') {
    const match = p.audience.match;
    // The profile's subscriptions are read together with the profile (one round trip), and by
    // profile id its recent sends too.
    const known = match.mode === 'profile_id' ? [match.value as string] : null;
    const since = now - campaign.skip_minutes * 60_000;
    const [{ profile, subscriptions }, recent] = await Promise.all([
      resolveSingleWithSubscriptions(deps.store, db, match),
      known && campaign.skip_minutes > 0 ? deps.store.recentRecipients(campaign.id, known, since) : null,
    ]);
    const reads = {
      getSubscriptions: async (ids: string[]) => subscriptions ?? deps.store.getSubscriptions(ids),
      recentRecipients: async (id: number, ids: string[], at: number) => recent ?? deps.store.recentRecipients(id, ids, at),
    };
    const rows = await messagesFor(reads, campaign, [profile], p.filter, { now, priority: PRIORITY.trigger });
    const seal = key?.seal() ?? null;
    const result = p.attachments.length
      ? await withAttachmentFiles(deps.store, p.attachments, () => deps.store.transaction((tx) => writeLaunch(tx, campaign, p, kind, rows, now, seal)))
      : await writeLaunch(deps.store, campaign, p, kind, rows, now, seal);
    if (result.queued) deps.wake('messages');
    return result;
  }

  const query = p.audience.query;
  compileQuery(query, 'custom_request'); // refuse what mingo cannot compile before anything is stored
  const mark = (await key?.claim()) ?? null; // its answer (a 404 when nobody matches) is known only after the first pages
  let launch = await withAttachmentFiles(deps.store, p.attachments, () => deps.store.transaction(async (tx) => {
    const l = await tx.insertLaunch(
      { campaign_id: campaign.id, kind, state: 'expanding', content: p.content, custom_data: p.customData, audience: { query, priority: PRIORITY.audience }, cursor: null },
      now,
    );
    // The claim names the launch in the same commit: a repeat after a crash answers with it (no second launch).
    if (mark) await tx.markDedupLaunch(mark, l.id);
    await tx.insertAttachments(l.id, p.attachments, now);
    // This request expands the first pages itself; background expanders keep off until it is done.
    await tx.leaseLaunch(l.id, now + INLINE_EXPANSION_LEASE_MS);
    await tx.appendCampaignLog(campaign.id, 'info', `launch ${l.id} (${kind}): custom_request accepted`, now);
    return l;
  }));
  let rowsRead = 0;
  let queued = 0;
  let skipped = 0;
  while (launch.state === 'expanding' && rowsRead < INLINE_ROWS) {
    let step: Awaited<ReturnType<typeof expandStep>>;
    try {
      step = await expandStep(deps, launch, campaign, db);
    } catch (e) {
      // Refused on the data (answered 400): the launch ends rather than being retried for ever.
      await failExpansion(deps, launch, e);
      throw e;
    }
    if (!step) break; // another expander took it over
    launch = step.launch;
    rowsRead += step.rowsRead;
    queued += step.queued;
    skipped += step.skipped;
  }
  if (launch.state === 'expanding') {
    await deps.store.leaseLaunch(launch.id, null);
    deps.wake('launches');
  }
  return { launch, queued, skipped, empty: launch.state === 'done' && launch.total === 0 };
}
