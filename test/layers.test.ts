/**
 * Issue 24, item 9: the layer rule of docs/architecture.md holds in the code, and the check that
 * `npm run lint` runs (scripts/check-layers.mjs) catches an import that breaks it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const check = (root: string) => spawnSync(process.execPath, [path.join(ROOT, 'scripts/check-layers.mjs'), root], { encoding: 'utf8' });
/** The problems the check names, one a line. */
const problemsOf = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('layers: ') && !/break the layer rule/.test(l)).map((l) => l.slice('layers: '.length));

describe('the layer rule', () => {
  it('holds for src/ and ui/', () => {
    const run = check(ROOT);
    assert.deepEqual(problemsOf(run.stderr), []);
    assert.equal(run.status, 0);
  });

  it('names each import that breaks it, and the lint step fails', () => {
    const tmp = tempDir();
    try {
      const file = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(tmp.dir, rel)), { recursive: true });
        writeFileSync(path.join(tmp.dir, rel), text);
      };
      file('src/core/rule.ts', "import type { Store } from '../store/store.ts';\nexport const x = 1;\n");
      file('src/store/store.ts', "export type Store = {};\n");
      file('src/store/postgres/wake.ts', "import type {\n  Work,\n} from '../../engine/loops.ts';\n");
      file('src/engine/loops.ts', "import { post } from '../delivery/post.ts';\nexport type Work = string;\n");
      file('src/delivery/post.ts', "import { x } from '../engine/loops.ts';\nexport const post = 1;\n");
      file('src/http/ops.ts', "const r = await import('../delivery/post.ts');\n");
      file('ui/src/page.tsx', "import { x } from '../../src/core/rule.ts';\n");
      const run = check(tmp.dir);
      assert.deepEqual(problemsOf(run.stderr).sort(), [
        'src/core/rule.ts imports src/store/store.ts: core may import only core, support',
        'src/engine/loops.ts imports src/delivery/post.ts: engine may import only engine, shared, store, core, support',
        'src/http/ops.ts imports src/delivery/post.ts: http may import only http, engine, shared, store, core, support',
        'src/store/postgres/wake.ts imports src/engine/loops.ts: store may import only store, core, support',
        'ui/src/page.tsx imports ../../src/core/rule.ts: the console reaches Salvo only through the API',
      ]);
      assert.equal(run.status, 1);
      assert.match(run.stderr, /layers: 5 import\(s\) break the layer rule/);
    } finally {
      tmp.remove();
    }
  });
});
