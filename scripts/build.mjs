// Bundles src/ into dist/salvo.mjs (dependencies stay in node_modules) and copies the SQL migrations beside
// it (dist/migrations/<dialect>), so the bundle reads nothing from src/ at run time. `salvo` runs the bundle:
// run through tsx, each process also carried tsx's loader thread, about 35 MB of its resident memory.
// Then builds the web console (ui/, Vite) into dist/ui, which Salvo serves at /ui.
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';

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
  entryPoints: { salvo: 'src/main.ts', 'mailer-thread': 'src/delivery/mailer-thread.ts', 'checkpoint-thread': 'src/store/sqlite/checkpoint-thread.mjs' },
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

/** The newest modification time under dir, of its files and folders (a folder's changes when a file in it is removed). */
const newest = (dir) =>
  Math.max(statSync(dir).mtimeMs, ...readdirSync(dir, { withFileTypes: true, recursive: true }).map((e) => statSync(`${e.parentPath}/${e.name}`).mtimeMs));

// The console takes about a second to build: `npm start` and `npm run salvo` skip it while dist/ui is newer than ui/.
const built = 'dist/ui/index.html';
if (!existsSync(built) || statSync(built).mtimeMs < newest('ui')) await vite.build({ configFile: 'ui/vite.config.ts' });
