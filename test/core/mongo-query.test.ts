import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/core/errors.ts';
import { checkQuery, compileQuery } from '../../src/core/mongo-query.ts';

const docs = [
  { _id: 'a', email: 'a@x.io', Custom_ID: 'IpHicQquekzYkufl', tags: ['vip', 'new'], n: 5, nested: { k: 1 } },
  { _id: 'b', email: 'b@x.io', Custom_ID: 'xzFKLXeaJkCYHuMb', tags: [], n: '5' },
  { _id: 'c', email: null, n: null },
];
const ids = (q: Record<string, unknown>) => docs.filter(compileQuery(q, 'custom_request')).map((d) => d._id);

const refused = (q: unknown, text: RegExp) =>
  assert.throws(() => checkQuery(q, 'custom_request'), (e: unknown) => e instanceof ApiError && e.code === 400 && text.test(e.text));

describe('MongoDB queries', () => {
  it('has MongoDB semantics for arrays, missing fields and types', () => {
    assert.deepEqual(ids({ Custom_ID: { $in: ['IpHicQquekzYkufl', 'xzFKLXeaJkCYHuMb'] } }), ['a', 'b']);
    assert.deepEqual(ids({ tags: 'vip' }), ['a']);
    assert.deepEqual(ids({ n: null }), ['c']);
    assert.deepEqual(ids({ missing: null }), ['a', 'b', 'c']);
    assert.deepEqual(ids({ n: { $gt: 4 } }), ['a']);
    assert.deepEqual(ids({ n: { $type: 'string' } }), ['b']);
    assert.deepEqual(ids({ tags: { $size: 0 } }), ['b']);
    assert.deepEqual(ids({ tags: { $all: ['new', 'vip'] } }), ['a']);
    assert.deepEqual(ids({ email: { $regex: '^A', $options: 'i' } }), ['a']);
    assert.deepEqual(ids({ $or: [{ n: 5 }, { email: 'b@x.io' }] }), ['a', 'b']);
    assert.deepEqual(ids({ $nor: [{ n: 5 }, { n: '5' }] }), ['c']);
    assert.deepEqual(ids({ n: { $not: { $gt: 4 } } }), ['b', 'c']);
    assert.deepEqual(ids({ 'nested.k': 1 }), ['a']);
    assert.deepEqual(ids({ email: { $exists: true, $ne: null } }), ['a', 'b']);
  });

  it('refuses operators outside the whitelist, naming them', () => {
    refused({ $where: 'sleep(1000)' }, /operator '\$where' is not allowed/);
    refused({ a: { $expr: { $gt: [1, 0] } } }, /custom_request\.a\.\$expr: operator '\$expr' is not allowed/);
    refused({ a: { $function: {} } }, /'\$function' is not allowed/);
    refused({ a: { $mod: [2, 1] } }, /'\$mod' is not allowed/);
    refused({ $and: [{ a: { $jsonSchema: {} } }] }, /\$and\[0\]\.a\.\$jsonSchema/);
    refused({ a: { b: { $where: 'x' } } }, /'\$where' is not allowed/);
    refused({ a: { $in: 'x' } }, /\$in takes an array/);
    refused({ $or: [] }, /non-empty array/);
    refused([], /a query must be an object/);
    refused({ a: { $regex: '(a)\\1' } }, /RE2 syntax is required/);
    refused({ a: { $regex: '[' } }, /not a valid RE2 regular expression/);
  });

  it('bounds depth and size', () => {
    let q: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < 10; i++) q = { $and: [q] };
    refused(q, /nested deeper than 8/);
    refused({ a: { $in: Array.from({ length: 25_000 }, (_, i) => i) } }, /larger than 20000/);
  });
});
