/**
 * The PostgreSQL advisory locks Salvo takes (SQLite needs none: its transactions are serial), kept in
 * one place so that no two uses share a key. PostgreSQL keeps one-key (bigint) and two-key (int, int)
 * locks apart, so the two forms below cannot collide with each other.
 */

/**
 * One key: held while a process migrates the schema, so that processes starting at once against one
 * database migrate one at a time. The value is arbitrary but fixed: every version must use the same.
 */
export const MIGRATION_LOCK = 726583;

/**
 * One key: taken (for its transaction) by each batch of the retention purge, so that the purges of several
 * processes take turns rather than race for the same rows; a process that finds it held leaves the pass to the other.
 */
export const PURGE_LOCK = 726584;

/**
 * Two keys (this class, a database id): held by a transaction writing one database's profiles, so that
 * two imports cannot both create "the" profile for one email.
 */
export const PROFILE_DATABASE_LOCK_CLASS = 1;
