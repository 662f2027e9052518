// Runs every test/**/*.test.ts with node:test. Node 20 neither expands a quoted glob nor fails when no
// file is found, so the files are listed here and the run fails if the summary counts no tests.
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

const only = process.argv.slice(2);
const files = only.length ? only : find('test').sort();
if (files.length === 0) {
  console.error('run-tests: no test files under test/');
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: ['inherit', 'pipe', 'inherit'],
});
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-200_000);
});
child.on('close', (code) => {
  const tests = Number([...tail.matchAll(/ℹ tests (\d+)/g)].pop()?.[1] ?? 0);
  if (code === 0 && tests === 0) {
    console.error('run-tests: the summary counts no tests');
    process.exit(1);
  }
  console.log(`run-tests: ${files.length} files, ${tests} tests, exit ${code}`);
  process.exit(code ?? 1);
});
