/** Pure rules of issue 22: which role may call which method, and which template variables resolve to nothing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedSecrets } from '../../src/core/resource-secrets.ts';
import { accessOfPath, mayCall, roleRefusal } from '../../src/core/roles.ts';
import { parseTemplate } from '../../src/core/template/parse.ts';
import type { RenderContext } from '../../src/core/template/render.ts';
import { unknownFieldsOf, unresolvedInContext } from '../../src/core/template/warnings.ts';

describe('roles', () => {
  it('classes each method by its path', () => {
    const cases: [string, string][] = [
      ['/campaigns/triggers/start', 'launch'],
      ['/campaigns/triggers/import_and_start_batch_task', 'launch'],
      ['/tasks/get', 'launch'],
      ['/campaigns/triggers/list', 'read'],
      ['/campaigns/triggers/get', 'read'],
      ['/databases/fields', 'read'],
      ['/messages/stats', 'read'],
      ['/webhooks/deliveries', 'read'],
      ['/campaigns/triggers/add', 'write'],
      ['/messages/retry', 'write'],
      ['/webhooks/test', 'write'],
      ['/tokens/list', 'admin'],
      ['/tokens/me', 'self'],
    ];
    assert.deepEqual(cases.map(([p]) => [p, accessOfPath(p)]), cases);
  });

  it('grants each role its classes, and names the role when it refuses', () => {
    const table = (['admin', 'editor', 'viewer', 'trigger'] as const).map((r) => [r, (['read', 'write', 'launch', 'admin', 'self'] as const).filter((a) => mayCall(r, a)).join(' ')]);
    assert.deepEqual(table, [
      ['admin', 'read write launch admin self'],
      ['editor', 'read write launch self'],
      ['viewer', 'read self'],
      ['trigger', 'launch self'],
    ]);
    assert.equal(roleRefusal('viewer', 'templates/add'), "this token's role is viewer (read only): it may not call templates/add");
  });

  it("finds the provider secrets a resource write would set, change or remove, not those kept", () => {
    const stored = { sms: { sender: 'S', smpp: { url: 'smpp://u:p@h:2775' } }, email: { from_email: 'a@b.c' } };
    assert.deepEqual(changedSecrets(stored, { ...stored, email: { from_email: 'x@b.c' } }), []);
    assert.deepEqual(changedSecrets(stored, { ...stored, sms: { sender: 'S', smpp: { url: 'smpp://u:q@h:2775' } } }), ['sms.smpp.url']);
    assert.deepEqual(changedSecrets(stored, { ...stored, sms: null }), ['sms.smpp.url']);
    assert.deepEqual(changedSecrets({}, { push: { webpush: { vapid_private_key: 'k' } } as never }), ['push.webpush.vapid_private_key']);
  });
});

describe('variables that resolve to nothing', () => {
  const ctx = (apicontent: unknown, lead: Record<string, unknown> = {}): RenderContext => ({ lead, apicontent, subscription: { channel: 'email', email: 'a@b.c' }, subscriptions: [] });
  const inContext = (src: string, c: RenderContext, fields: string[] = []) => unresolvedInContext(parseTemplate(src), c, new Set(fields), 'email.html');

  it('reports a content path that is not there, with what there is where it stops', () => {
    assert.deepEqual(inContext('{apicontent.ordr.id} {apicontent.order.id}', ctx({ order: { id: 1 } })), [
      'email.html: {apicontent.ordr.id} at line 1, column 2 resolves to nothing (there: order)',
    ]);
    assert.deepEqual(inContext('x\n  {apicontent.order.sku}', ctx({ order: { id: 1, qty: 2 } })), ['email.html: {apicontent.order.sku} at line 2, column 4 resolves to nothing (there: id, qty)']);
  });

  it('takes a variable tested by an enclosing {if} as optional, and loop variables as bound', () => {
    assert.deepEqual(inContext('{if apicontent.note}{apicontent.note}{end}', ctx({})), []);
    assert.deepEqual(inContext('{for line in apicontent.lines}{line.name}{end}', ctx({ lines: [] })), []);
    assert.deepEqual(inContext('{for line in apicontent.lins}{line}{end}', ctx({ lines: [] })), ['email.html: {apicontent.lins} at line 1, column 14 resolves to nothing (there: lines)']);
  });

  it("does not report a database's field that this profile has no value for, but does a field no database has", () => {
    assert.deepEqual(inContext('{lead.CRM_ID}{lead.CRMID}', ctx({}, { email: 'a@b.c' }), ['CRM_ID']), ['email.html: {lead.CRMID} at line 1, column 15 resolves to nothing (there: email)']);
  });

  it('at save, reports lead fields no database has and subscription fields there are none of', () => {
    const nodes = parseTemplate('{lead._fname}{lead.Segmnt}{subscription.email}{subscription.emial}{apicontent.anything}');
    assert.deepEqual(unknownFieldsOf(nodes, new Set(['_fname', 'Segment']), 'email.text').map((w) => w.replace(/ \(there: .*\)$/, '')), [
      'email.text: {lead.Segmnt} at line 1, column 15 resolves to nothing',
      'email.text: {subscription.emial} at line 1, column 48 resolves to nothing',
    ]);
  });
});
