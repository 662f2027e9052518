/**
 * The OpenAPI document a started server serves at /openapi.json: valid by a maintained validator
 * (@apidevtools/swagger-parser), and complete — every method named, answered and refused in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startServer, type TestServer } from '../helpers.ts';

type Operation = { operationId?: string; responses: Record<string, { $ref?: string; description?: string; content?: Record<string, { schema: Schema }> }> };
type Schema = { type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; items?: Schema; $ref?: string; [k: string]: unknown };
// biome-ignore lint/suspicious/noExplicitAny: the document is JSON read as it comes; the assertions check its shape
type Doc = any;

/** Every schema object below a node, however nested (properties, items, anyOf...). */
function* schemas(node: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(node)) for (const n of node) yield* schemas(n);
  else if (node && typeof node === 'object') {
    yield node as Record<string, unknown>;
    for (const v of Object.values(node)) yield* schemas(v);
  }
}

describe('the OpenAPI document', () => {
  let s: TestServer;
  let doc: Doc;
  before(async () => {
    s = await startServer({ env: { SALVO_PUBLIC_URL: 'https://salvo.example.com' } });
    const res = await fetch(`${s.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = await res.json();
  });
  after(() => s.close());

  it('validates with swagger-parser', async () => {
    // validate() dereferences in place; it gets a copy.
    await SwaggerParser.validate(structuredClone(doc));
  });

  it('names the server, and has no empty required list anywhere', () => {
    assert.deepEqual(doc.servers, [{ url: 'https://salvo.example.com', description: 'This server (SALVO_PUBLIC_URL)' }]);
    const empty = [...schemas(doc)].filter((n) => Array.isArray(n.required) && n.required.length === 0);
    assert.deepEqual(empty, []);
  });

  it('gives every operation a unique operationId, a 200 and the 4xx the API answers', () => {
    const ids = new Set<string>();
    const operations = Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([verb, op]) => ({ where: `${verb.toUpperCase()} ${path}`, op })),
    );
    assert.ok(operations.length >= 40, `${operations.length} operations`);
    for (const { where, op } of operations) {
      assert.ok(op.operationId, `${where} has an operationId`);
      assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`);
      ids.add(op.operationId);
      assert.ok(op.responses['200'], `${where} documents its 200`);
    }
    for (const { where, op } of operations.filter((o) => o.where.startsWith('POST /api/v1.1/'))) {
      // resources/push_subscribe takes no API token (its credential is the resource_token): no 401.
      const codes = where === 'POST /api/v1.1/resources/push_subscribe' ? ['400', '403', '413'] : ['400', '401', '403', '413'];
      for (const code of codes) assert.ok(op.responses[code], `${where} documents its ${code}`);
    }
    assert.equal(doc.paths['/api/v1.1/campaigns/triggers/start'].post.operationId, 'campaigns_triggers_start');
    assert.ok(doc.paths['/api/v1.1/campaigns/triggers/get'].post.responses['404'], 'a method that reads by id documents its 404');
    assert.ok(doc.paths['/api/v1.1/profiles/get'].post.responses['409'], 'profiles/get documents its 409 (several profiles match)');
  });

  it('describes the envelope of each answer with a typed data, and the error envelope', () => {
    const ok = (path: string) => doc.paths[path].post.responses['200'].content['application/json'].schema as Schema;
    for (const path of Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1.1/'))) {
      const answer = ok(path);
      assert.deepEqual(Object.keys(answer.properties ?? {}).slice(0, 3), ['error', 'error_text', 'data'], path);
      const data = answer.properties!.data;
      assert.ok(Object.keys(data).some((k) => ['type', 'nullable', 'anyOf', '$ref'].includes(k)), `${path}: data has a type (${JSON.stringify(data)})`);
    }
    // A list with its cursor beside it, typed rows, and the extras Altcraft puts at the top level.
    const list = ok('/api/v1.1/campaigns/triggers/list');
    assert.equal(list.properties!.data.type, 'array');
    assert.equal(list.properties!.data.items!.properties!.call_url.nullable, true);
    assert.deepEqual(list.properties!.total_count.type, 'integer');
    assert.ok(list.properties!.next_from_id);
    assert.ok(ok('/api/v1.1/profiles/import').properties!.profile_id);
    assert.ok(ok('/api/v1.1/campaigns/triggers/start_batch').properties!.result);
    assert.ok(ok('/api/v1.1/messages/list').properties!.next_cursor);

    const refused = doc.paths['/api/v1.1/databases/get'].post.responses['404'];
    const error = refused.content['application/json'].schema as Schema;
    const resolved = error.$ref ? doc.components.schemas[error.$ref.split('/').pop()!] : error;
    assert.deepEqual(Object.keys(resolved.properties), ['error', 'error_text', 'data']);
    assert.deepEqual(resolved.required, ['error', 'error_text', 'data']);
  });

  it('lists /health, /ready and /metrics', () => {
    for (const path of ['/health', '/ready', '/metrics']) {
      const op = doc.paths[path]?.get as Operation | undefined;
      assert.ok(op, `${path} is listed`);
      assert.ok(op.operationId, `${path} has an operationId`);
      assert.ok(op.responses['200'], `${path} documents its 200`);
    }
    assert.ok(doc.paths['/metrics'].get.responses['200'].content['text/plain'], '/metrics answers text');
  });

  it('keeps the request bodies as they were: required fields, token beside them', () => {
    const body = doc.paths['/api/v1.1/campaigns/triggers/add'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['name', 'send_channel', 'resource_id', 'db_id', 'content']);
    assert.ok(body.properties.token);
    const list = doc.paths['/api/v1.1/databases/list'].post.requestBody.content['application/json'].schema;
    assert.equal(list.required, undefined, 'a body with no required field has no required list');
  });
});
