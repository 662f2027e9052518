// Bundles src/ into dist/salvo.mjs (dependencies stay in node_modules). `salvo` runs the bundle: run
// through tsx, each process also carried tsx's loader thread, about 35 MB of its resident memory.
import { build } from 'esbuild';

await build({
  entryPoints: { salvo: 'src/main.ts', 'mailer-thread': 'src/delivery/mailer-thread.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
