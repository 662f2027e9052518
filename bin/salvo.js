#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=30
// --max-semi-space-size=2: V8's young generation stays small; under load the default let it add tens of
// MB of resident memory for no gain (docs/performance.md). --heap-growing-percent=30: after a full
// collection the old generation may grow by 30 % before the next one; on a machine with gigabytes
// V8 lets it grow up to 4x the live heap, and a fan-out's short-lived garbage filled that (C's peak
// RSS, docs/performance.md). Both must be command-line flags. MALLOC_ARENA_MAX=2: glibc gives each
// thread that allocates (main, mailer, WAL checkpoint, V8's helpers) an arena of its own; two keep
// 6-8 MB of RSS off a fan-out (docs/performance.md). glibc reads it only at start, so it is set here.
// Runs the bundle `npm run build` makes of src/ (npm install, npm start and npm test build it).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/salvo.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('salvo: dist/salvo.mjs is missing; run `npm run build` first');
  process.exit(1);
}
process.setSourceMapsEnabled(true); // stack traces in logs point at the TypeScript
await import(bundle.href);
