/**
 * profiles/delete, a GDPR erasure: the profile a request names (matched as profiles/get matches) is
 * erased in one transaction with what its messages, launches, outbox copies and pending webhook
 * deliveries say about the person (store/queries/erasures.ts), and the erasure is recorded: which
 * profile id, which database, which API token, when. profiles/erasures lists the records.
 */
import type { FastifyBaseLogger } from 'fastify';
import { notFound } from '../core/errors.ts';
import { profileKeys } from '../core/profile.ts';
import type { Erasure } from '../store/queries/erasures.ts';
import type { CatalogStore, ErasureStore, ProfileStore, StoreLifecycle, Transactions } from '../store/store.ts';
import { iso } from '../support/time.ts';
import { loadDatabase } from './catalog-entries.ts';
import { findOneProfile, type MatchParams } from './profiles.ts';

type ErasureDeps = Pick<CatalogStore, 'getDatabase'> & ProfileStore & Transactions<ProfileStore & ErasureStore> & Pick<StoreLifecycle, 'truncateLog'>;

/** Erases the profile the request names; answers its id. */
export async function deleteProfile(
  store: ErasureDeps,
  request: MatchParams & { db_id: number } & Record<string, unknown>,
  tokenName: string,
  log?: FastifyBaseLogger,
): Promise<string> {
  const db = await loadDatabase(store, request.db_id);
  // Matched outside the transaction: a custom field that is not indexed is matched by a scan of the
  // database, which must not hold SQLite's one writer (nor the database's lock) meanwhile.
  const { id } = await findOneProfile(store, db, request);
  const now = Date.now();
  const counts = await store.transaction(async (tx) => {
    // Imports of this database wait until the erasure commits: one that read the profile before could
    // otherwise write its keys and subscriptions back after.
    await tx.lockDatabase(db.id);
    const [profile] = await tx.getProfiles([id]);
    if (!profile) throw notFound(`profile ${id} no longer exists in database ${db.id}`);
    const erased = await tx.eraseProfile({ id, db_id: db.id, keys: profileKeys(db, profile) }, now);
    await tx.recordErasure({ profile_id: id, db_id: db.id, token_name: tokenName }, now);
    return erased;
  });
  // The rows are gone; their old copies in SQLite's WAL go too, before the answer says the person is erased.
  // Off the event loop (the checkpoint thread); a failure is logged, the erasure itself stands.
  try {
    if (!(await store.truncateLog())) log?.warn({ profile: id }, 'the WAL could not be truncated after the erasure (readers held it); the next checkpoint reuses it');
  } catch (err) {
    log?.warn({ err, profile: id }, 'truncating the WAL after the erasure failed');
  }
  log?.info({ profile: id, db: db.id, token: tokenName, ...counts }, 'profile erased');
  return id;
}

const erasureView = (e: Erasure) => ({ id: e.id, profile_id: e.profile_id, db_id: e.db_id, token: e.token_name, time: iso(e.created_at) });

/** profiles/erasures: the records, newest first. */
export async function listErasures(store: Pick<ErasureStore, 'listErasures'>, dbId: number | null, limit: number) {
  return (await store.listErasures(dbId, limit)).map(erasureView);
}
