/**
 * Issue 8, item 1: the disk under the SQLite store fails writes with EIO for a few seconds while
 * triggers arrive and messages are being delivered. The data directory is a FUSE passthrough
 * filesystem (eio-fs.py) whose write, truncate and fsync answer EIO while a switch file exists, so
 * SQLite meets an honest SQLITE_IOERR_WRITE from the kernel, first in the middle of a commit. The process lives and answers, writes
 * answer 200 or 503 with Retry-After (never 500, never a hang), and once the disk works again every
 * acknowledged trigger's message arrives exactly once.
 *
 * Skipped, with the reason, where FUSE cannot be mounted (no /dev/fuse, no fusepy, no permission).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startShop, stopShop } from '../fixture.ts';
import { eventually, tempDir } from '../helpers.ts';
import { assertAnswers, deliveredOnce, sendTriggers, type Answer } from './store-helpers.ts';

const SCRIPT = fileURLToPath(new URL('./eio-fs.py', import.meta.url));
/** The longest the disk may fail before what the fault must show has happened (the test then fails). */
const FAULT_LIMIT_MS = 15_000;

interface EioFs {
  /** The mounted directory: files here live in the backing directory. */
  dir: string;
  /** Makes writes under `dir` fail with EIO after `writes` more have succeeded (null: all work again). */
  failAfter(writes: number | null): void;
  unmount(): Promise<void>;
}

/** A Python 3 that has fusepy (Debian's python3-fusepy, or pip's), or null. */
function pythonWithFusepy(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'try:\n import fusepy\nexcept ImportError:\n import fuse; fuse.FUSE, fuse.Operations'], { stdio: 'ignore' });
    if (r.status === 0) return python;
  }
  return null;
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
/** eio-fs.py's exit status for "FUSE cannot be used here". */
const CANNOT_MOUNT = 77;

/**
 * Mounts eio-fs.py over a fresh backing directory; answers why not when this machine cannot mount
 * FUSE. Any other failure to mount (a broken helper) fails the test rather than skipping it.
 */
async function mountEioFs(): Promise<EioFs | { skip: string }> {
  if (!existsSync('/dev/fuse')) return { skip: 'no /dev/fuse' };
  const python = pythonWithFusepy();
  if (!python) return { skip: 'no python3 with fusepy (apt-get install python3-fusepy fuse3)' };
  const tmp = tempDir('salvo-eio-');
  const [backing, dir, failFile] = ['backing', 'mnt', 'fail'].map((p) => path.join(tmp.dir, p));
  mkdirSync(backing);
  mkdirSync(dir);
  const child = spawn(python, [SCRIPT, backing, dir, failFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  child.stdout!.on('data', (d: Buffer) => (said += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (said += d.toString()));
  const unmount = async () => {
    // The filesystem unmounts itself and exits on SIGTERM; umount -l is for a daemon that did not.
    if (!exited(child)) child.kill('SIGTERM');
    await eventually(async () => exited(child), 5000, 'the FUSE daemon to exit').catch(() => {
      spawnSync('umount', ['-l', dir]);
      child.kill('SIGKILL');
    });
    tmp.remove();
  };
  try {
    await eventually(async () => said.includes('ready') || exited(child), 10_000, 'the FUSE mount');
  } catch (e) {
    await unmount();
    throw e;
  }
  if (!said.includes('ready')) {
    await unmount();
    const why = `mounting FUSE failed (exit ${child.exitCode}): ${said.trim()}`;
    if (child.exitCode === CANNOT_MOUNT) return { skip: why };
    throw new Error(why);
  }
  return {
    dir,
    failAfter: (writes) => (writes === null ? rmSync(failFile, { force: true }) : writeFileSync(failFile, String(writes))),
    unmount,
  };
}

describe('SQLite write I/O error (EIO from the disk)', () => {
  let fs: EioFs | null = null;
  let unavailable = '';
  let env: Awaited<ReturnType<typeof startShop>> | null = null;
  before(async () => {
    const mounted = await mountEioFs();
    if ('skip' in mounted) {
      unavailable = `FUSE cannot be mounted here: ${mounted.skip}`;
      return;
    }
    fs = mounted;
    env = await startShop({ env: { SALVO_DATA_DIR: path.join(fs.dir, 'data'), SALVO_STORE_RETRY_MS: '500' } });
  });
  after(async () => {
    fs?.failAfter(null);
    if (env) await stopShop(env.s, env.smtp);
    await fs?.unmount();
  });

  it('answers 200 or 503 while writes fail, stays up, and delivers every acknowledged trigger once', async (t) => {
    if (!env || !fs) return t.skip(unavailable);
    const { s, smtp, shop } = env;
    // A slow SMTP server keeps sends in flight when the disk starts failing, so that their outcomes
    // cannot be recorded: the test for sending nothing twice.
    smtp.verdict = () => ({ delayMs: 250 });
    const first = await sendTriggers(s, shop, 'first', 60);
    assert.ok(first.every((a) => a.status === 200), 'writes before the fault succeed');
    await eventually(async () => smtp.received.length >= 5, 20_000, 'the first mails to arrive');

    const during: Answer[] = [];
    const health: number[] = [];
    let faultOver = false;
    // Probes of /health and a read run beside the traffic, one pair per round of it (not on a timer).
    let roundDone: () => void = () => {};
    const traffic = (async () => {
      for (let round = 0; !faultOver; round++) {
        during.push(...(await sendTriggers(s, shop, `during-${round}`, 8, 4)));
        roundDone();
      }
      roundDone();
    })();
    const reads: number[] = [];
    const probes = (async () => {
      while (!faultOver) {
        const nextRound = new Promise<void>((r) => (roundDone = r));
        health.push((await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(2000) })).status);
        reads.push((await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 5 })).status);
        await nextRound;
      }
    })();

    // A couple of writes still succeed, so the first failing commit fails half-written, as on a dying disk.
    fs.failAfter(2);
    await eventually(async () => during.some((a) => a.status === 503), 10_000, 'a write to fail with EIO');
    const receivedAtFault = smtp.received.length;
    // The fault lasts until what it must show has happened: mails sent whose outcomes could not be
    // recorded, several writes refused, and /health and a read answered while the disk failed.
    await eventually(
      async () => smtp.received.length > receivedAtFault + 2 && during.filter((a) => a.status === 503).length >= 5 && health.length >= 3,
      FAULT_LIMIT_MS,
      'mails sent, writes refused and probes answered during the fault',
    );
    const sentInFault = smtp.received.length - receivedAtFault;
    fs.failAfter(null);
    faultOver = true;
    await Promise.all([traffic, probes]);

    const later = await sendTriggers(s, shop, 'later', 30);
    const refused = during.filter((a) => a.status === 503);
    t.diagnostic(`${refused.length} of ${during.length} writes during the fault answered 503; ${sentInFault} mails sent during it; /health and messages/list answered ${health.length} times`);
    const all = [...first, ...during, ...later];
    assertAnswers(all, 5000);
    assert.match(refused[0].body.error_text, /I\/O error: SQLITE_IOERR/);
    assert.ok(health.every((st) => st === 200), `/health answered ${health.join(', ')}`);
    assert.ok(reads.every((st) => st === 200), `reads during the fault answered ${reads.join(', ')}`);
    assert.ok(sentInFault > 0, 'mails were sent while their outcomes could not be recorded');
    assert.ok(later.every((a) => a.status === 200), `writes after the fault succeed: ${JSON.stringify(later.find((a) => a.status !== 200)?.body)}`);

    const acknowledged = all.filter((a) => a.status === 200).map((a) => a.title);
    const counts = await deliveredOnce(s, smtp, acknowledged, 30_000);
    for (const [title, n] of counts) assert.equal(n, 1, `${title} delivered ${n} times`);
    const refusedTitles = new Set(refused.map((a) => a.title));
    assert.deepEqual([...counts.keys()].filter((title) => refusedTitles.has(title)), [], 'a refused trigger was not stored');
  });
});
