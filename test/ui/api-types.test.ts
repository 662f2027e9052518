/** The console's generated API types (ui/src/openapi.d.ts) are what the routes' schemas generate now: regenerate with `npm run ui-types`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { API_TYPES_FILE, generatedApiTypes } from '../../scripts/ui-api-types.ts';

test('ui/src/openapi.d.ts is generated from the current /openapi.json', async () => {
  const generated = await generatedApiTypes();
  assert.ok(generated.includes('tokens_me: {'), 'the document names the methods');
  assert.ok(readFileSync(API_TYPES_FILE, 'utf8') === generated, 'ui/src/openapi.d.ts is out of date: run npm run ui-types');
});
