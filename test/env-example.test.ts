/** .env.example lists every setting src/config.ts reads, each once, and nothing it does not read. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

test('.env.example names exactly the settings of src/config.ts', () => {
  const config = read('src/config.ts');
  // Names as config.ts reads them: integer(env, 'SALVO_X', ...), env.SALVO_X, and PORT, HOST.
  const read_ = new Set([...config.matchAll(/(?:env\.|env, ')((?:SALVO_[A-Z_]+[A-Z])|PORT|HOST)\b/g)].map((m) => m[1]));
  const listed = [...read('.env.example').matchAll(/^#([A-Z_]+)=/gm)].map((m) => m[1]);
  assert.equal(new Set(listed).size, listed.length, 'each setting once');
  assert.deepEqual([...listed].sort(), [...read_].sort());
});
