/** Launches through an API v1.0 link: one profile, optional field values, the link as credential. */
import { conflict, notFound } from '../core/errors.ts';
import { linkTarget, useFields, type FieldInput } from '../core/links.ts';
import type { Campaign } from '../core/types.ts';
import { campaignDatabase, launchableCampaign, writeLaunch, type LaunchResult, type Launching } from './launch.ts';
import type { CampaignStore } from '../store/store.ts';
import type { Catalog } from './catalog.ts';
import { saveProfilePatch } from './profiles.ts';
import { PRIORITY, messagesFor } from './recipients.ts';

/** The campaign a link key names, launchable; an old key (the database changed) names none. */
export async function campaignOfLink(deps: { store: Pick<CampaignStore, 'getCampaignByLinkKey'>; catalog: Catalog }, key: string): Promise<Campaign> {
  const c = /^[0-9a-f]{32}$/.test(key) ? await deps.store.getCampaignByLinkKey(key) : null;
  if (!c) throw notFound('no trigger campaign has this link (was its database changed? get the new call_url)');
  return launchableCampaign(deps.catalog, c.id);
}

export async function launchByLink(
  deps: Launching,
  campaign: Campaign,
  segment: string,
  body: { fields?: FieldInput[]; content?: Record<string, unknown> },
): Promise<LaunchResult> {
  const now = Date.now();
  const db = await campaignDatabase(deps.catalog, campaign);
  const target = linkTarget(segment);
  const found = await deps.store.findProfiles(db.id, target.by, [target.value]);
  if (found.length === 0) throw notFound(`no profile found for ${target.by} ${target.value} in database ${db.id}`);
  if (found.length > 1) throw conflict(`${found.length} profiles match ${target.by} ${target.value} in database ${db.id}`);
  const [profile] = found;
  const use = useFields(db, profile, body.fields ?? []);
  const rows = await messagesFor(deps.store, campaign, [profile], null, {
    now,
    priority: PRIORITY.trigger,
    overrides: use.overrides ? new Map([[profile.id, use.overrides]]) : undefined,
  });
  const result = await deps.store.transaction(async (tx) => {
    if (use.patch) await saveProfilePatch(tx, db, profile, use.patch, now);
    return writeLaunch(tx, campaign, { content: body.content ?? {}, customData: null, attachments: [] }, 'v1', rows, now);
  });
  if (result.queued) deps.wake('messages');
  return result;
}
