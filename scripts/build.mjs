// Bundles src/ into dist/salvo.mjs (dependencies stay in node_modules) and copies the SQL migrations beside
// it (dist/migrations/<dialect>), so the bundle reads nothing from src/ at run time. `salvo` runs the bundle:
// run through tsx, each process also carried tsx's loader thread, about 35 MB of its resident memory.
// Then builds the web console (ui/, Vite) into dist/ui, which Salvo serves at /ui.
import { cpSync, existsSync, rmSync } from 'node:fs';

// esbuild and Vite are devDependencies: an install without them (`npm ci --omit=dev`) runs the dist/ it was given.
let esbuild;
let vite;
try {
  esbuild = await import('esbuild');
  vite = await import('vite');
} catch {
  const built = existsSync(new URL('../dist/salvo.mjs', import.meta.url));
  console.warn(`build: esbuild is not installed (an install without devDependencies); ${built ? 'using the existing dist/' : 'dist/ is missing: install with devDependencies to build it'}`);
  process.exit(0);
}

await esbuild.build({
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

rmSync('dist/migrations', { recursive: true, force: true });
for (const dialect of ['sqlite', 'postgres']) {
  cpSync(`src/store/${dialect}/migrations`, `dist/migrations/${dialect}`, { recursive: true });
}

await vite.build({ configFile: 'ui/vite.config.ts' });
