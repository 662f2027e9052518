#!/usr/bin/env node
/**
 * The layer rule of docs/architecture.md, checked (`npm run lint` runs it): every relative import in
 * src/ (type-only imports too) goes to a layer its own layer may use, and the console (ui/) imports
 * nothing from src/. A short walk over the imports rather than dependency-cruiser: the rule is one
 * table, and this file is all there is to read to know what is enforced.
 *
 * Usage: node scripts/check-layers.mjs [root]   (root: the repository, by default this script's parent)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What each layer may import, itself included. `shared` is config.ts, log.ts and metrics.ts; `root` is the composition root and the CLI. */
const MAY_IMPORT = {
  core: ['core', 'support'],
  support: ['support'],
  store: ['store', 'core', 'support'],
  shared: ['shared', 'store', 'core', 'support'],
  engine: ['engine', 'shared', 'store', 'core', 'support'],
  delivery: ['delivery', 'engine', 'shared', 'store', 'core', 'support'],
  http: ['http', 'engine', 'shared', 'store', 'core', 'support'],
  root: ['root', 'http', 'delivery', 'engine', 'shared', 'store', 'core', 'support'],
};
const SHARED = new Set(['config.ts', 'log.ts', 'metrics.ts']);

/** The layer of a file given by its path under src/. */
function layerOf(rel) {
  const [first, ...rest] = rel.split('/');
  if (rest.length === 0) return SHARED.has(first) ? 'shared' : 'root';
  return first in MAY_IMPORT ? first : null;
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'migrations') yield* sourceFiles(p);
    } else if (/\.(ts|tsx|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield p;
  }
}

/** The relative specifiers a file imports or re-exports (static, dynamic and side-effect imports). */
function relativeImports(text) {
  const found = [];
  const patterns = [/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g];
  for (const re of patterns) for (const m of text.matchAll(re)) if (m[1].startsWith('.')) found.push(m[1]);
  return found;
}

function layerProblems(root) {
  const problems = [];
  const src = path.join(root, 'src');
  for (const file of sourceFiles(src)) {
    const from = path.relative(src, file).split(path.sep).join('/');
    const layer = layerOf(from);
    if (layer === null) {
      problems.push(`src/${from}: not in any layer of docs/architecture.md (add its folder to scripts/check-layers.mjs)`);
      continue;
    }
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = path.relative(src, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
      if (target.startsWith('..')) {
        problems.push(`src/${from} imports ${spec}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (!MAY_IMPORT[layer].includes(to)) problems.push(`src/${from} imports src/${target}: ${layer} may import only ${MAY_IMPORT[layer].join(', ')}`);
    }
  }
  const ui = path.join(root, 'ui', 'src');
  for (const file of sourceFiles(ui)) {
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(ui + path.sep)) problems.push(`${path.relative(root, file)} imports ${spec}: the console reaches Salvo only through the API`);
    }
  }
  return problems;
}

const root = process.argv[2] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const problems = layerProblems(root);
for (const p of problems) console.error(`layers: ${p}`);
if (problems.length) {
  console.error(`layers: ${problems.length} import(s) break the layer rule (docs/architecture.md, Layers)`);
  process.exit(1);
}
console.log('layers: every import follows the layer rule');
