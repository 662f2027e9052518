/**
 * PostgreSQL's page-at-a-time scan of a database's profiles, in physical order.
 *
 * Paging by id walked the id index and fetched each row's heap page in id order: a million profiles
 * cost about a million random buffer reads (4.2 s) where a sequential read of the table takes a
 * fraction of a second. So the scan walks the table's blocks (a TID range scan: `ctid` between two
 * blocks), which reads the heap in order, and needs no index.
 *
 * A row's place (ctid) is not stable: an UPDATE writes the new version wherever there is room, maybe
 * in a block the scan has passed. So the walk covers the blocks the table had when the scan began,
 * and then a second pass reads, in id order, every row version written since then (its `xmin` is a
 * transaction that was running when the scan began, or began after): a profile that moved behind the
 * walk, and one added during it, are read there. A profile that moved ahead of the walk may come
 * twice (once from each pass); callers keep one (a launch's messages are unique per profile). That
 * pass reads the table once more, sequentially, and usually finds a page or none.
 *
 * Cursors (`horizon`: `<xmax>~<running xids>` of the start snapshot): `b/<horizon>/<blocks>/<last ctid>/<range end>/<range width>` during the walk,
 * `c/<horizon>/<last id>` during the second pass. A cursor of a bare profile id was written before
 * this scan (a launch being expanded across the upgrade): it goes on in id order, as it began.
 */
import type { Param, Row, SqlDriver } from '../driver.ts';

/** Blocks (8 kB) a range starts with, and its bounds: it halves after a full page, doubles after a thin one. */
const RANGE = { first: 64, min: 8, max: 16_384 };
/** Blocks one call reads at most, so a selective filter over a huge table still answers in steps. */
const BLOCKS_PER_CALL = 65_536;

interface Walk {
  pass: 'b';
  horizon: string;
  blocks: number;
  last: string;
  end: number;
  width: number;
}
interface Changed {
  pass: 'c';
  horizon: string;
  after: string;
}
type Cursor = Walk | Changed | { pass: 'id'; after: string };

function parse(cursor: string): Cursor {
  const [pass, ...f] = cursor.split('/');
  if (pass === 'b') return { pass, horizon: f[0], blocks: Number(f[1]), last: f[2], end: Number(f[3]), width: Number(f[4]) };
  if (pass === 'c') return { pass, horizon: f[0], after: f.slice(1).join('/') };
  return { pass: 'id', after: cursor };
}

const format = (c: Walk | Changed) => (c.pass === 'b' ? `b/${c.horizon}/${c.blocks}/${c.last}/${c.end}/${c.width}` : `c/${c.horizon}/${c.after}`);

/**
 * The start snapshot (`xmin:xmax:xip,...`) as the second pass tests row versions against it: written by
 * a transaction from xmax on, or by one running then. Row xids (xmin) are 32 bits: their low halves.
 */
function horizonOf(snapshot: string): string {
  const [, xmax, xip] = snapshot.split(':');
  const low = (x: string) => String(BigInt(x) % 2n ** 32n);
  return `${low(xmax)}~${xip ? xip.split(',').map(low).join(',') : ''}`;
}

export interface ScanFilter {
  /** ` AND ...` narrowing the rows, and its parameters. */
  sql: string;
  params: Param[];
}

/** One page of at most `limit` rows and the cursor after it (null: the end). */
export async function scanPostgres(db: SqlDriver, dbId: number, after: string | null, limit: number, filter: ScanFilter): Promise<{ rows: Row[]; next: string | null }> {
  let cursor: Cursor;
  if (after === null) {
    // A snapshot and the table's size in one statement: a transaction that had committed before the
    // snapshot wrote only into those blocks; any other is running in it (xip) or starts after it (xmax on).
    const start = await db.get<{ snapshot: string; blocks: number }>(
      `SELECT CAST(pg_current_snapshot() AS TEXT) AS snapshot, pg_relation_size('profiles') / current_setting('block_size')::int AS blocks`,
    );
    cursor = { pass: 'b', horizon: horizonOf(start!.snapshot), blocks: Number(start!.blocks), last: '(0,0)', end: Math.min(RANGE.first, Number(start!.blocks)), width: RANGE.first };
  } else {
    cursor = parse(after);
  }
  if (cursor.pass === 'id') {
    const rows = await db.all(`SELECT * FROM profiles WHERE db_id = ? AND id > ?${filter.sql} ORDER BY id LIMIT ?`, [dbId, cursor.after, ...filter.params, limit]);
    return { rows, next: rows.length < limit ? null : String(rows[rows.length - 1].id) };
  }
  const rows: Row[] = [];
  let read = 0;
  while (cursor.pass === 'b') {
    const walk: Walk = cursor;
    if (walk.end <= 0) {
      cursor = { pass: 'c', horizon: walk.horizon, after: '' };
      break;
    }
    const want = limit - rows.length;
    const got = await db.all(
      `SELECT ctid::text AS scan_position, * FROM profiles WHERE ctid > CAST(? AS tid) AND ctid < CAST(? AS tid) AND db_id = ?${filter.sql} ORDER BY ctid LIMIT ?`,
      [walk.last, `(${walk.end},0)`, dbId, ...filter.params, want],
    );
    rows.push(...got);
    if (got.length === want) {
      // Full: the rest of this range next time, and narrower ranges after it.
      cursor = { ...walk, last: String(got[got.length - 1].scan_position), width: Math.max(RANGE.min, walk.width >> 1) };
      return { rows, next: format(cursor) };
    }
    read += walk.end - Number(/^\((\d+),/.exec(walk.last)![1]);
    const width = got.length < want / 4 ? Math.min(RANGE.max, walk.width * 2) : walk.width;
    cursor = walk.end >= walk.blocks ? { pass: 'c', horizon: walk.horizon, after: '' } : { ...walk, last: `(${walk.end},0)`, end: Math.min(walk.blocks, walk.end + width), width };
    if (read >= BLOCKS_PER_CALL) return { rows, next: format(cursor) };
  }
  if (cursor.pass !== 'c') throw new Error('unreachable');
  // Written since the walk began: a materialised set, so that the planner reads the table through (as
  // the walk does) rather than walking the id index in order for the sake of the LIMIT.
  const want = limit - rows.length;
  const [xmax, running] = cursor.horizon.split('~');
  const changed = await db.all(
    `WITH changed AS MATERIALIZED (
       SELECT * FROM profiles
       WHERE db_id = ? AND (age(xmin) <= age(CAST(CAST(? AS TEXT) AS xid)) OR xmin = ANY(CAST(CAST(? AS TEXT) AS xid[]))) AND id > ?${filter.sql})
     SELECT * FROM changed ORDER BY id LIMIT ?`,
    [dbId, xmax, `{${running}}`, cursor.after, ...filter.params, want],
  );
  rows.push(...changed);
  if (changed.length < want) return { rows, next: null };
  return { rows, next: format({ ...cursor, after: String(changed[changed.length - 1].id) }) };
}
