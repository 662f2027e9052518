// Checkpoints the SQLite WAL from a thread of its own (checkpointer.ts says why). Plain JavaScript:
// it runs as it is from src/ and from dist/, without the TypeScript loader (150 ms to start a thread
// with it, measured). Runs PASSIVE checkpoints, which never wait for, nor block, the process's readers
// and writers; a failure is reported and retried after a longer pause, never ends the thread.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ file: string, everyMs: number }} */
const { file, everyMs } = workerData;
let db;
try {
  db = new Database(file, { fileMustExist: true });
  // As the main connection: in WAL mode a checkpoint syncs the database file, commits do not.
  db.pragma('synchronous = NORMAL');
  // A checkpoint copies pages from the WAL to the file: it needs next to no page cache.
  db.pragma('cache_size = -256');
} catch (e) {
  parentPort.postMessage({ error: { message: `could not open the database: ${e.message}`, code: e.code }, fatal: true });
  process.exit(1);
}

let failures = 0;
let timer = setTimeout(step, everyMs);

function step() {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
  } catch (e) {
    failures++;
    parentPort.postMessage({ error: { message: e.message, code: e.code } });
  }
  timer = setTimeout(step, Math.min(30_000, everyMs * 2 ** Math.min(failures, 10)));
}

parentPort.on('message', (m) => {
  // After an erasure: the whole WAL copied into the database and the file cut to nothing, so that no old
  // frame keeps the erased rows. It waits for readers (SQLite's busy handler, here in this thread only).
  if (m && typeof m === 'object' && 'truncate' in m) {
    let done = false;
    try {
      db.pragma('busy_timeout = 1000');
      done = db.pragma('wal_checkpoint(TRUNCATE)')[0].busy === 0;
    } catch (e) {
      parentPort.postMessage({ error: { message: e.message, code: e.code } });
    } finally {
      db.pragma('busy_timeout = 0');
    }
    parentPort.postMessage({ truncated: m.truncate, done });
    return;
  }
  if (m !== 'close') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
