import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/core/errors.ts';
import { checkFieldDefs, normalizeDate, normalizePhone, normalizeProfileData } from '../../src/core/fields.ts';
import { md5Hex, xxh64Hex } from '../../src/core/hashes.ts';
import { newProfileId, PROFILE_ID } from '../../src/core/ids.ts';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Database } from '../../src/core/types.ts';

const db: Database = {
  id: 7,
  name: 'main',
  created_at: 0,
  fields: [
    { name: 'CRM_ID', type: 'int', indexed: true },
    { name: 'City', type: 'string', indexed: false },
    { name: 'Interests', type: 'tags', indexed: true },
    { name: 'Vip', type: 'bool', indexed: false },
    { name: 'Since', type: 'date', indexed: false },
    { name: 'Extra', type: 'json', indexed: false },
  ],
};

const refused = (fn: () => unknown, text: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === 400 && text.test(e.text));

describe('fields and profiles', () => {
  it('hashes the trimmed, lowercased email as Altcraft does', () => {
    assert.equal(md5Hex(' John@Example.com '), 'd4c74594d841139328695756648b6bd6');
    assert.equal(xxh64Hex('john@example.com'), '0d1cf76dbb341cda');
  });

  it('makes 24-hex profile ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newProfileId()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, PROFILE_ID);
  });

  it('checks field definitions', () => {
    assert.deepEqual(checkFieldDefs([{ name: 'CRM_ID', type: 'int', indexed: true }]), [{ name: 'CRM_ID', type: 'int', indexed: true }]);
    refused(() => checkFieldDefs([{ name: 'a', type: 'float' }]), /fields\[0\]\.type 'float' is not a field type/);
    refused(() => checkFieldDefs([{ name: '_x', type: 'int' }]), /fields\[0\]\.name '_x' is not allowed/);
    refused(() => checkFieldDefs([{ name: 'email', type: 'string' }]), /fields\[0\]\.name 'email' is a system field/);
    refused(() => checkFieldDefs([{ name: '_city', type: 'string' }]), /fields\[0\]\.name '_city' is a system field: every database has it/);
    refused(() => checkFieldDefs([{ name: 'A', type: 'int' }, { name: 'a', type: 'int' }]), /given twice/);
    refused(() => checkFieldDefs([{ name: 'j', type: 'json', indexed: true }]), /cannot be indexed/);
  });

  it('normalises emails, phones, dates and tags', () => {
    assert.equal(normalizePhone('+7 (900) 000-00-00'), '+79000000000');
    assert.equal(normalizePhone('79000000000'), '+79000000000');
    refused(() => normalizePhone('12'), /not a valid phone/);
    assert.equal(normalizeDate('2024-02-29', 'd'), '2024-02-29');
    refused(() => normalizeDate('2023-02-29', 'd'), /not a valid date/);
    assert.equal(normalizeDate('2024-01-02T03:04:05+03:00', 'd'), '2024-01-02T00:04:05.000Z');
    const p = normalizeProfileData(db, { email: ' A@B.CO ', phones: '+79000000000', Interests: 'a, b ,a', CRM_ID: 5, Vip: true, Since: '2020-01-01', Extra: { k: [1] } });
    assert.equal(p.email, 'a@b.co');
    assert.deepEqual(p.phones, ['+79000000000']);
    assert.deepEqual(p.data, { Interests: ['a', 'b'], CRM_ID: 5, Vip: true, Since: '2020-01-01', Extra: { k: [1] } });
  });

  it('refuses values of the wrong type, naming the field', () => {
    refused(() => normalizeProfileData(db, { CRM_ID: '5' }), /field 'CRM_ID' must be an integer/);
    refused(() => normalizeProfileData(db, { Vip: 'yes' }), /field 'Vip' must be true or false/);
    refused(() => normalizeProfileData(db, { City: 5 }), /field 'City' must be a string/);
    refused(() => normalizeProfileData(db, { Nope: 1 }), /field 'Nope' is not a field of database 7/);
    refused(() => normalizeProfileData(db, { email: 'not-an-email' }), /field 'email' is not a valid email/);
    refused(() => normalizeProfileData(db, { _md5: 'x' }), /field '_md5' is read-only/);
    refused(() => normalizeProfileData(db, { _status: 'gone' }), /field '_status' must be one of/);
    assert.deepEqual(normalizeProfileData(db, { Nope: 1 }, { ignoreUnknown: true }).data, {});
  });

  it('applies patches, keeps hashes in step with the email, and lists index keys', () => {
    const created = applyProfilePatch(null, normalizeProfileData(db, { email: 'john@example.com', CRM_ID: 42, Interests: ['x', 'y'], phones: ['+79000000001'] }), db.id, 1000);
    assert.equal(created.md5, 'd4c74594d841139328695756648b6bd6');
    assert.equal(created.data._regdate, new Date(1000).toISOString());
    assert.deepEqual(profileKeys(db, created), [
      { field: 'phones', key: '+79000000001' },
      { field: 'CRM_ID', key: '42' },
      { field: 'Interests', key: 'x' },
      { field: 'Interests', key: 'y' },
    ]);
    const updated = applyProfilePatch(created, normalizeProfileData(db, { email: null, CRM_ID: null, City: 'Oslo' }), db.id, 2000);
    assert.equal(updated.id, created.id);
    assert.equal(updated.md5, null);
    assert.equal(updated.data.CRM_ID, undefined);
    assert.equal(updated.data.City, 'Oslo');
    assert.equal(updated.created_at, 1000);
    assert.equal(updated.updated_at, 2000);
  });
});
