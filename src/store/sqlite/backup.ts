/**
 * `salvo backup`: a consistent copy of the SQLite store, taken while `salvo serve` runs, with
 * `VACUUM INTO`. It reads one snapshot in one read transaction; in WAL mode a reader takes no lock a
 * writer waits for, so the server goes on writing, and the copy holds every transaction committed
 * before the backup began. The online backup API (better-sqlite3's db.backup()) copies the file in
 * steps and starts over whenever another connection writes in between: under a fan-out it did not
 * finish at all (docs/operations.md, "Backups", has the measurements).
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

export class BackupError extends Error {}

/** How long the copy waits for a lock (only a checkpoint that truncates the WAL holds one against readers). */
const BUSY_MS = 10_000;

/**
 * Copies the store at `source` to `target`. An existing target is refused unless `force`; the copy is
 * written beside it under another name and renamed into place when complete and checked, so `target`
 * is never a half-written file. Answers its size in bytes.
 */
export function backupSqlite(source: string, target: string, force: boolean): { bytes: number } {
  if (!existsSync(source)) throw new BackupError(`there is no store at ${source}`);
  if (existsSync(target) && !force) throw new BackupError(`${target} exists; add --force to replace it`);
  if (existsSync(target) && statSync(target).isDirectory()) throw new BackupError(`${target} is a directory; name a file`);
  const partial = path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}.${process.pid}.partial`);
  rmSync(partial, { force: true });
  const db = new Database(source, { readonly: true, fileMustExist: true, timeout: BUSY_MS });
  try {
    db.prepare('VACUUM INTO ?').run(partial);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new BackupError(`the copy failed: ${(e as Error).message}`);
  } finally {
    db.close();
  }
  const copy = new Database(partial, { readonly: true });
  const check = copy.pragma('quick_check', { simple: true });
  copy.close();
  if (check !== 'ok') {
    rmSync(partial, { force: true });
    throw new BackupError(`the copy does not check out (quick_check: ${String(check)}); nothing was written to ${target}`);
  }
  renameSync(partial, target);
  return { bytes: statSync(target).size };
}
