/** Profile databases: the list, a new one with its typed fields, and one with its fields and subscription counts. */
import { useState } from 'preact/hooks';
import { call, type DataOf, get } from '../api.ts';
import { Card, Fields, Json, ListTable, Load, Page } from '../components.tsx';
import { FormError, Select, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { navigate } from '../router.ts';

const FIELD_TYPES = ['string', 'int', 'float', 'bool', 'date', 'tags', 'json'] as const;

export type DatabaseRow = DataOf<'databases/list'>[number];

export function DatabasesPage() {
  const list = useLoad(() => get('databases/list'), []);
  const can = useCan();
  return (
    <Page title="Databases" actions={can('write') && <a class="button" href="#/databases/new">New database</a>}>
      <Load loaded={list}>
        {(rows) => (
          <Card>
            <ListTable
              rows={rows}
              rowKey={(d) => d.id}
              empty={`No profile database yet.${can('write') ? ' Create one first: profiles, campaigns and imports belong to a database.' : ''}`}
              columns={[
                { head: 'Name', cell: (d) => <a href={`#/databases/${d.id}`}>{d.name}</a> },
                { head: 'Custom fields', cell: (d) => d.fields.map((f) => `${f.name} (${f.type})`).join(', ') || <span class="muted">none</span> },
              ]}
            />
          </Card>
        )}
      </Load>
    </Page>
  );
}

interface FieldDraft {
  name: string;
  type: string;
  indexed: boolean;
}

export function NewDatabasePage() {
  const form = useForm(['name', 'fields']);
  const [name, setName] = useState('');
  const [fields, setFields] = useState<FieldDraft[]>([]);
  const setField = (i: number, patch: Partial<FieldDraft>) => setFields(fields.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  const save = async (e: Event) => {
    e.preventDefault();
    const made = await form.submit('databases/add', { name, fields });
    if (made) navigate(`#/databases/${made.id}`);
  };
  return (
    <Page title="New database">
      <Card>
        <form class="form" name="database" onSubmit={save}>
          <TextInput form={form} name="name" label="Name" value={name} onInput={setName} required />
          <fieldset class="rows">
            <legend>Custom fields</legend>
            {fields.map((f, i) => (
              <div class="row wrap" key={i}>
                <TextInput form={form} name={`fields[${i}].name`} label={`Field ${i + 1} name`} value={f.name} onInput={(v) => setField(i, { name: v })} />
                <Select form={form} name={`fields[${i}].type`} label={`Field ${i + 1} type`} value={f.type} options={FIELD_TYPES} onChange={(v) => setField(i, { type: v })} />
                <label class="inline">
                  <input type="checkbox" checked={f.indexed} onChange={(e) => setField(i, { indexed: e.currentTarget.checked })} /> Indexed (for matching)
                </label>
                <button type="button" class="secondary" onClick={() => setFields(fields.filter((_, j) => j !== i))}>
                  Remove field {i + 1}
                </button>
              </div>
            ))}
            {form.errors.fields && <span class="field-error" role="alert">{form.errors.fields}</span>}
            <button type="button" class="secondary" onClick={() => setFields([...fields, { name: '', type: 'string', indexed: false }])}>
              Add a field
            </button>
          </fieldset>
          <FormError form={form} />
          <button type="submit" disabled={form.busy}>
            Create database
          </button>
        </form>
      </Card>
    </Page>
  );
}

/** Renames a database and adds fields (databases/update): fields are added, never changed or removed. */
function EditDatabase({ db, onSaved }: { db: DatabaseRow; onSaved: () => void }) {
  const form = useForm(['name', 'fields']);
  const [name, setName] = useState(db.name);
  const [fields, setFields] = useState<FieldDraft[]>([]);
  const setField = (i: number, patch: Partial<FieldDraft>) => setFields(fields.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  const save = async (e: Event) => {
    e.preventDefault();
    if ((await form.submit('databases/update', { id: db.id, name, fields })) !== undefined) {
      setFields([]);
      onSaved();
    }
  };
  return (
    <Card title="Edit">
      <form class="form" name="database-edit" onSubmit={save}>
        <TextInput form={form} name="name" label="Name" value={name} onInput={setName} required />
        <fieldset class="rows">
          <legend>New fields</legend>
          {fields.map((f, i) => (
            <div class="row wrap" key={i}>
              <TextInput form={form} name={`fields[${i}].name`} label={`New field ${i + 1} name`} value={f.name} onInput={(v) => setField(i, { name: v })} />
              <Select form={form} name={`fields[${i}].type`} label={`New field ${i + 1} type`} value={f.type} options={FIELD_TYPES} onChange={(v) => setField(i, { type: v })} />
              <label class="inline">
                <input type="checkbox" checked={f.indexed} onChange={(e) => setField(i, { indexed: e.currentTarget.checked })} /> Indexed
              </label>
            </div>
          ))}
          {form.errors.fields && <span class="field-error" role="alert">{form.errors.fields}</span>}
          <button type="button" class="secondary" onClick={() => setFields([...fields, { name: '', type: 'string', indexed: false }])}>
            Add a field
          </button>
        </fieldset>
        <FormError form={form} />
        <button type="submit" disabled={form.busy}>
          Save database
        </button>
      </form>
    </Card>
  );
}

export function DatabasePage({ id }: { id: number }) {
  const db = useLoad(() => get('databases/get', { id }), [id]);
  const all = useLoad(async () => (await call('databases/fields', { id })).data, [id]);
  const can = useCan();
  return (
    <Page title={db.value ? `Database: ${db.value.name}` : `Database #${id}`} actions={<a class="button secondary" href={`#/profiles?db=${id}`}>Profiles</a>}>
      <Load loaded={db}>
        {(d) => (
          <div class="grid2">
            <Card title="Fields">
              <p class="muted small">Fields can be added, not changed or removed. Templates reach them as {'{lead.<field>}'}.</p>
              <Fields rows={(all.value ?? d.fields).map((f) => [f.name, `${f.type}${'system' in f && f.system ? ' (system)' : ''}`])} />
            </Card>
            <Card title="Subscriptions by channel and status">
              <Json value={d.subscriptions ?? null} />
            </Card>
            {can('write') && (
              <EditDatabase
                key={d.name + d.fields.length}
                db={d}
                onSaved={() => {
                  db.reload();
                  all.reload();
                }}
              />
            )}
          </div>
        )}
      </Load>
    </Page>
  );
}
