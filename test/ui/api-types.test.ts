/** The console's generated API types and values (ui/src/openapi.d.ts, openapi-values.ts) are what the routes' schemas generate now: regenerate with `npm run ui-types`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WEBHOOK_EVENTS } from '../../src/core/webhooks.ts';
import { API_TYPES_FILE, API_VALUES_FILE, generatedApiTypes, literal } from '../../scripts/ui-api-types.ts';

test('ui/src/openapi.d.ts and openapi-values.ts are generated from the current /openapi.json', async () => {
  const { types, values } = await generatedApiTypes();
  assert.ok(types.includes('tokens_me: {'), 'the document names the methods');
  assert.ok(readFileSync(API_TYPES_FILE, 'utf8') === types, 'ui/src/openapi.d.ts is out of date: run npm run ui-types');
  assert.ok(values.includes(`export const WEBHOOK_EVENTS = ${literal([...WEBHOOK_EVENTS, '*'])} as const;`), values);
  assert.ok(readFileSync(API_VALUES_FILE, 'utf8') === values, 'ui/src/openapi-values.ts is out of date: run npm run ui-types');
});
