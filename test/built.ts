/**
 * Tests that run the `salvo` command (bin/salvo.js runs dist/salvo.mjs) build dist/ first when it is
 * missing or older than src/, so that one such test file run alone tests the code as it is now. `npm
 * test` builds before the suite; then this finds dist/ fresh and does nothing.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SALVO_BIN = path.join(ROOT, 'bin/salvo.js');
const BUNDLE = path.join(ROOT, 'dist/salvo.mjs');
/** Test files run in parallel: one builds while the others wait for it (an abandoned lock goes after a minute). */
const LOCK = path.join(ROOT, 'dist.build-lock');

function newestIn(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestIn(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const mtime = (file: string) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

const fresh = () => mtime(BUNDLE) >= Math.max(newestIn(path.join(ROOT, 'src')), mtime(path.join(ROOT, 'scripts/build.mjs')));

function tryLock(): boolean {
  try {
    closeSync(openSync(LOCK, 'wx'));
    return true;
  } catch {
    if (Date.now() - mtime(LOCK) > 60_000) rmSync(LOCK, { force: true });
    return false;
  }
}

let built: Promise<string> | null = null;

/** Answers the path of bin/salvo.js once dist/ is as new as src/. */
export function ensureBuilt(): Promise<string> {
  built ??= (async () => {
    while (!fresh()) {
      if (!tryLock()) {
        await eventually(async () => mtime(LOCK) === 0, 120_000, 'another test file to finish building dist/');
        continue;
      }
      try {
        const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`building dist/ failed: ${r.stderr || r.stdout}`);
      } finally {
        rmSync(LOCK, { force: true });
      }
      if (!fresh()) throw new Error('dist/ is still older than src/ after building it');
    }
    return SALVO_BIN;
  })();
  return built;
}
