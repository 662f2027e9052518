// Runs every test/**/*.test.ts with node:test. Node 20 neither expands a quoted glob nor fails when no
// file is found, so the files are listed here and the run fails if the summary counts no tests.
//
// The PostgreSQL half of the suite runs against SALVO_TEST_PG_URL. Unset, the local server CI uses
// (postgres://postgres@127.0.0.1:5432/test) is tried and used when it answers; otherwise that half is
// skipped and the run says so, with the reason, at its start and in its last line. SALVO_TEST_PG_URL=off
// skips it on purpose.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

// The CLI and docs tests run the built bin/salvo.js: build dist/ once, before any test file starts.
const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('run-tests: the build failed');
  process.exit(1);
}

const LOCAL_PG = 'postgres://postgres@127.0.0.1:5432/test';

/** Where the PostgreSQL half runs, or why it does not. */
async function choosePostgres() {
  const given = process.env.SALVO_TEST_PG_URL;
  if (given === 'off') return { url: null, note: 'SKIPPED (SALVO_TEST_PG_URL=off)' };
  if (given) return { url: given, note: `against SALVO_TEST_PG_URL (${given.replace(/:[^:@/]*@/, ':***@')})` };
  const { default: postgres } = await import('postgres');
  const sql = postgres(LOCAL_PG, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return { url: LOCAL_PG, note: `against the local server ${LOCAL_PG} (SALVO_TEST_PG_URL is not set; it answered)` };
  } catch (e) {
    const why = e.code ?? e.message;
    return { url: null, note: `SKIPPED: SALVO_TEST_PG_URL is not set and ${LOCAL_PG} does not answer (${why}); set SALVO_TEST_PG_URL to run it` };
  } finally {
    sql.end({ timeout: 1 }).catch(() => {});
  }
}

const pg = await choosePostgres();
const env = { ...process.env };
if (pg.url) env.SALVO_TEST_PG_URL = pg.url;
else delete env.SALVO_TEST_PG_URL;
console.log(`run-tests: PostgreSQL half ${pg.note}`);

const only = process.argv.slice(2);
const files = only.length ? only : find('test').sort();
if (files.length === 0) {
  console.error('run-tests: no test files under test/');
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: ['inherit', 'pipe', 'inherit'],
  env,
});
let tail = '';
let line = '';
/** Skipped tests as the spec reporter prints them: `﹣ name (1ms) # reason`. */
const skipped = new Set();
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const text = chunk.toString();
  tail = (tail + text).slice(-200_000);
  const lines = (line + text).split('\n');
  line = lines.pop();
  for (const l of lines) {
    const m = /^\s*﹣ (.*?) \([\d.]+ms\) # (.*)$/.exec(l);
    if (m) skipped.add(`${m[1]}: ${m[2]}`);
  }
});
child.on('close', (code) => {
  const count = (what) => Number([...tail.matchAll(new RegExp(`ℹ ${what} (\\d+)`, 'g'))].pop()?.[1] ?? 0);
  const tests = count('tests');
  if (code === 0 && tests === 0) {
    console.error('run-tests: the summary counts no tests');
    process.exit(1);
  }
  for (const s of skipped) console.log(`run-tests: skipped ${s}`);
  console.log(`run-tests: ${files.length} files, ${tests} tests (${count('skipped')} skipped), exit ${code}; PostgreSQL half ${pg.note}`);
  process.exit(code ?? 1);
});
