/**
 * Resources: the list, and a form for a new or stored one: its channels, email sender, SMS sender and
 * SMPP provider. Secrets are write-only: the form shows whether one is set, never its value, and an
 * empty secret field keeps what is stored (it is sent back as resources/get shows it). Only an admin
 * token sees the secret fields (the API refuses them to others).
 */
import { useState } from 'preact/hooks';
import { get } from '../api.ts';
import { Card, Load, Page } from '../components.tsx';
import { FormError, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { navigate } from '../router.ts';

export interface ResourceRow {
  id: number;
  name: string;
  channels: string[];
  email: { from_email: string; from_name?: string; replyto_email?: string } | null;
  sms: { sender?: string; smpp?: { url: string } & Record<string, unknown>; http?: unknown } | null;
  push: unknown;
}

export function ResourcesPage() {
  const list = useLoad(() => get<ResourceRow[]>('resources/list'), []);
  const can = useCan();
  return (
    <Page title="Resources" actions={can('write') && <a class="button" href="#/resources/new">New resource</a>}>
      <Load loaded={list}>
        {(rows) => (
          <Card>
            {rows.length === 0 ? (
              <p class="muted">No resource yet: a resource is where messages come from (the email sender, the SMS sender and provider).</p>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Channels</th>
                    <th>From</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <a href={`#/resources/${r.id}`}>{r.name}</a>
                      </td>
                      <td>{r.channels.join(', ')}</td>
                      <td class="ellipsis">{r.email?.from_email ?? r.sms?.sender ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        )}
      </Load>
    </Page>
  );
}

const SECRET_SHOWN = /\*{8}/;

function ResourceForm({ stored }: { stored: ResourceRow | null }) {
  const form = useForm(['name', 'channels', 'email', 'sms', 'push']);
  const can = useCan();
  const [name, setName] = useState(stored?.name ?? '');
  const [channels, setChannels] = useState<string[]>(stored?.channels ?? ['email']);
  const [fromEmail, setFromEmail] = useState(stored?.email?.from_email ?? '');
  const [fromName, setFromName] = useState(stored?.email?.from_name ?? '');
  const [replyTo, setReplyTo] = useState(stored?.email?.replyto_email ?? '');
  const [sender, setSender] = useState(stored?.sms?.sender ?? '');
  const [smppUrl, setSmppUrl] = useState('');
  const storedUrl = stored?.sms?.smpp?.url;
  const toggle = (c: string, on: boolean) => setChannels(on ? [...channels, c] : channels.filter((x) => x !== c));
  const save = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { name, channels };
    if (channels.includes('email')) body.email = { from_email: fromEmail, ...(fromName ? { from_name: fromName } : {}), ...(replyTo ? { replyto_email: replyTo } : {}) };
    if (channels.includes('sms')) {
      // An empty URL keeps the stored one: sent back as resources/get showed it.
      const url = smppUrl || storedUrl;
      body.sms = { ...(stored?.sms ?? {}), ...(sender ? { sender } : {}), ...(url ? { smpp: { ...(stored?.sms?.smpp ?? {}), url } } : {}) };
    }
    const made = stored ? await form.submit<ResourceRow>('resources/update', { id: stored.id, ...body }) : await form.submit<{ id: number }>('resources/add', body);
    if (made) navigate(stored ? '#/resources' : `#/resources/${made.id}`);
  };
  return (
    <Card>
      <form class="form" name="resource" onSubmit={save}>
        <TextInput form={form} name="name" label="Name" value={name} onInput={setName} required />
        <fieldset class="rows">
          <legend>Channels</legend>
          {['email', 'sms', 'push'].map((c) => (
            <label class="inline">
              <input type="checkbox" name="channels" value={c} checked={channels.includes(c)} onChange={(e) => toggle(c, e.currentTarget.checked)} /> {c}
            </label>
          ))}
          {form.errors.channels && <span class="field-error" role="alert">{form.errors.channels}</span>}
        </fieldset>
        {channels.includes('email') && (
          <fieldset class="rows">
            <legend>Email sender</legend>
            <TextInput form={form} name="email" label="From address" type="email" value={fromEmail} onInput={setFromEmail} required />
            <TextInput form={form} name="email.from_name" label="From name" value={fromName} onInput={setFromName} />
            <TextInput form={form} name="email.replyto_email" label="Reply-To address" type="email" value={replyTo} onInput={setReplyTo} />
          </fieldset>
        )}
        {channels.includes('sms') && (
          <fieldset class="rows">
            <legend>SMS</legend>
            <TextInput form={form} name="sms" label="Sender (alphanumeric or a number)" value={sender} onInput={setSender} />
            <p class="small">
              SMPP provider URL: <strong>{storedUrl ? (SECRET_SHOWN.test(storedUrl) ? 'set (its password is hidden)' : 'set') : 'not set'}</strong>
              {storedUrl && <span class="muted"> — {storedUrl}</span>}
            </p>
            {can('admin') ? (
              <TextInput form={form} name="sms.smpp" label="New SMPP URL (write-only; empty keeps the stored one)" value={smppUrl} onInput={setSmppUrl} placeholder="smpp://system_id:password@smsc.example:2775" />
            ) : (
              <p class="muted small">Only an admin token sets provider secrets.</p>
            )}
          </fieldset>
        )}
        <FormError form={form} />
        <button type="submit" disabled={form.busy}>
          {stored ? 'Save resource' : 'Create resource'}
        </button>
      </form>
    </Card>
  );
}

export function ResourcePage({ id }: { id: number | null }) {
  const stored = useLoad(() => (id === null ? Promise.resolve(null) : get<ResourceRow>('resources/get', { id })), [id]);
  const can = useCan();
  return (
    <Page title={id === null ? 'New resource' : `Resource: ${stored.value?.name ?? `#${id}`}`}>
      <Load loaded={stored}>{(r) => (can('write') ? <ResourceForm key={r?.id ?? 'new'} stored={r} /> : <Card><pre class="json">{JSON.stringify(r, null, 2)}</pre></Card>)}</Load>
    </Page>
  );
}
