/**
 * CSV import into a database (`#/profiles/import`): the file is read in the browser (papaparse), each
 * column mapped to a profile field or left out, and the rows sent to profiles/import_batch in chunks of
 * 500, so the work and every check are the API's; progress shows as chunks finish, and each refused row
 * is listed with the API's reason and its line in the file.
 */
import Papa from 'papaparse';
import { useState } from 'preact/hooks';
import { get } from '../api.ts';
import { Card, Load, Page, Progress } from '../components.tsx';
import { FormError, Select, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import type { DatabaseRow } from './databases.tsx';
import type { ResourceRow } from './resources.tsx';

const CHUNK = 500;
const SKIP = '';

/** A column's value for a field of a type: numbers and booleans typed, tags split on commas; empty left out. */
function typed(value: string, type: string): unknown {
  const v = value.trim();
  if (v === '') return undefined;
  if (type === 'int' || type === 'float') return Number(v);
  if (type === 'bool') return /^(1|true|yes)$/i.test(v);
  if (type === 'tags') return v.split(/[,;]/).map((x) => x.trim()).filter(Boolean);
  return v;
}

/** The field a header most likely means: the same name, any case. */
const guess = (header: string, fields: string[]) => fields.find((f) => f.toLowerCase() === header.trim().toLowerCase().replace(/^phone$/, 'phones').replace(/^first_?name$/, '_fname')) ?? SKIP;

interface RowError {
  line: number;
  text: string;
}

function Importer({ dbs, resources }: { dbs: DatabaseRow[]; resources: ResourceRow[] }) {
  const form = useForm(['db_id', 'data']);
  const [db, setDb] = useState(String(dbs[0].id));
  const [rows, setRows] = useState<string[][]>([]);
  const [headers, setHeaders] = useState<string[]>([]);
  const [mapping, setMapping] = useState<string[]>([]);
  const [resource, setResource] = useState('');
  const [progress, setProgress] = useState<{ done: number; failed: number; total: number } | null>(null);
  const [errors, setErrors] = useState<RowError[]>([]);
  const [parseError, setParseError] = useState<string | null>(null);
  const database = dbs.find((d) => String(d.id) === db)!;
  const fieldTypes: Record<string, string> = { email: 'string', phones: 'tags', _fname: 'string', _lname: 'string', ...Object.fromEntries(database.fields.map((f) => [f.name, f.type])) };
  const fieldNames = Object.keys(fieldTypes);

  const read = (file: File) => {
    setParseError(null);
    Papa.parse<string[]>(file, {
      skipEmptyLines: true,
      complete: (result) => {
        if (result.errors.length) setParseError(`line ${(result.errors[0].row ?? 0) + 1}: ${result.errors[0].message}`);
        const [head = [], ...body] = result.data;
        setHeaders(head);
        setRows(body);
        setMapping(head.map((h) => guess(h, fieldNames)));
        setProgress(null);
        setErrors([]);
      },
    });
  };

  const run = async (e: Event) => {
    e.preventDefault();
    const r = resources.find((x) => String(x.id) === resource);
    const items = rows.map((row) => {
      const data: Record<string, unknown> = {};
      mapping.forEach((field, i) => {
        if (field === SKIP) return;
        const v = typed(row[i] ?? '', fieldTypes[field]);
        if (v !== undefined) data[field] = v;
      });
      if (r) {
        const subs = [];
        if (typeof data.email === 'string' && r.channels.includes('email')) subs.push({ resource_id: r.id, channel: 'email', email: data.email });
        const phone = Array.isArray(data.phones) ? data.phones[0] : undefined;
        if (phone && r.channels.includes('sms')) subs.push({ resource_id: r.id, channel: 'sms', phone });
        if (subs.length) data.subscriptions = subs;
      }
      return data;
    });
    const found: RowError[] = [];
    setErrors([]);
    setProgress({ done: 0, failed: 0, total: items.length });
    let failed = 0;
    for (let at = 0; at < items.length; at += CHUNK) {
      const chunk = items.slice(at, at + CHUNK);
      const results = await form.submit('profiles/import_batch', { db_id: Number(db), data: chunk });
      if (!results) return setProgress(null);
      results.forEach((res, i) => {
        // Line numbers of the file: the header is line 1.
        if (typeof res.error_text === 'string') found.push({ line: at + i + 2, text: res.error_text.replace(/^data\[\d+\]/, 'row') });
      });
      failed = found.length;
      setErrors([...found]);
      setProgress({ done: Math.min(at + CHUNK, items.length) - failed, failed, total: items.length });
    }
  };

  return (
    <Card>
      <form class="form" name="import" onSubmit={run}>
        <Select form={form} name="db_id" label="Database" value={db} options={dbs.map((d) => [String(d.id), d.name])} onChange={setDb} />
        <div class="field">
          <label for="csv-file">CSV file (first line: column names)</label>
          <input id="csv-file" type="file" accept=".csv,text/csv" onChange={(e) => e.currentTarget.files?.[0] && read(e.currentTarget.files[0])} />
        </div>
        {parseError && <div class="error" role="alert">{parseError}</div>}
        {headers.length > 0 && (
          <fieldset class="rows">
            <legend>Columns ({rows.length} rows)</legend>
            {headers.map((h, i) => (
              <Select
                form={form}
                name={`column-${i}`}
                label={`Column "${h}" (e.g. ${rows[0]?.[i] ?? ''})`}
                value={mapping[i] ?? SKIP}
                options={[[SKIP, 'leave out'], ...fieldNames.map((f) => [f, f] as [string, string])]}
                onChange={(v) => setMapping(mapping.map((m, j) => (j === i ? v : m)))}
              />
            ))}
          </fieldset>
        )}
        {resources.length > 0 && headers.length > 0 && (
          <Select form={form} name="resource" label="Subscribe each email and phone to" value={resource} options={[['', 'no resource (no subscription)'], ...resources.map((r) => [String(r.id), r.name] as [string, string])]} onChange={setResource} />
        )}
        <FormError form={form} />
        {headers.length > 0 && (
          <button type="submit" disabled={form.busy || (progress !== null && progress.done + progress.failed < progress.total)}>
            Import {rows.length} rows
          </button>
        )}
      </form>
      {progress && (
        <div class="result" role="status">
          <Progress done={progress.done} failed={progress.failed} total={progress.total} />
          <p>
            {progress.done} imported, {progress.failed} refused, of {progress.total}
          </p>
        </div>
      )}
      {errors.length > 0 && (
        <table class="table compact" id="import-errors">
          <thead>
            <tr>
              <th>Line</th>
              <th>Why refused</th>
            </tr>
          </thead>
          <tbody>
            {errors.slice(0, 500).map((e) => (
              <tr>
                <td class="num">{e.line}</td>
                <td>{e.text}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

export function ImportPage() {
  const lists = useLoad(async () => ({ dbs: await get('databases/list'), resources: await get('resources/list') }), []);
  return (
    <Page title="Import profiles">
      <Load loaded={lists}>{(l) => (l.dbs.length ? <Importer dbs={l.dbs} resources={l.resources} /> : <Card><p>Create a <a href="#/databases/new">database</a> first.</p></Card>)}</Load>
    </Page>
  );
}
