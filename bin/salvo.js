#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: V8's young generation stays small; under load the default let it add tens of
// MB of resident memory for no gain (docs/performance.md). It must be a command-line flag.
// Runs the bundle `npm run build` makes of src/ (npm install, npm start and npm test build it).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/salvo.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('salvo: dist/salvo.mjs is missing; run `npm run build` first');
  process.exit(1);
}
process.setSourceMapsEnabled(true); // stack traces in logs point at the TypeScript
await import(bundle.href);
