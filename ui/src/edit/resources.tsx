/**
 * Resources: the list, and a form for a new or stored one: its channels, tracking domain, email sender
 * and its open and click tracking, SMS sender and SMPP provider, and every other setting of each channel
 * (DKIM, sending limits, the SMS HTTP gateway, push providers) as JSON beside them. Secrets are
 * write-only: the form shows whether one is set, never its value, and an empty secret field keeps what is
 * stored (it is sent back as resources/get shows it). Only an admin token sees the secret fields (the
 * API refuses them to others). Settings the form does not show are sent back as stored, so saving the
 * form never drops them (an update replaces a channel's whole block).
 */
import { useState } from 'preact/hooks';
import { type DataOf, get } from '../api.ts';
import { Card, ListTable, Load, Page } from '../components.tsx';
import { FormError, parseJsonObject, TextArea, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { navigate } from '../router.ts';

export type ResourceRow = DataOf<'resources/list'>[number];

/** A channel block's settings other than those the form has inputs for, as editable JSON ('' when none). */
function otherSettings(block: Record<string, unknown> | null | undefined, shown: string[]): string {
  const rest = Object.fromEntries(Object.entries(block ?? {}).filter(([k]) => !shown.includes(k)));
  return Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '';
}

const EMAIL_SHOWN = ['from_email', 'from_name', 'replyto_email', 'track_opens', 'track_clicks'];
const SMS_SHOWN = ['sender', 'smpp'];

export function ResourcesPage() {
  const list = useLoad(() => get('resources/list'), []);
  const can = useCan();
  return (
    <Page title="Resources" actions={can('write') && <a class="button" href="#/resources/new">New resource</a>}>
      <Load loaded={list}>
        {(rows) => (
          <Card>
            <ListTable
              rows={rows}
              rowKey={(r) => r.id}
              empty="No resource yet: a resource is where messages come from (the email sender, the SMS sender and provider)."
              columns={[
                { head: 'Name', cell: (r) => <a href={`#/resources/${r.id}`}>{r.name}</a> },
                { head: 'Channels', cell: (r) => r.channels.join(', ') },
                { head: 'From', cell: (r) => r.email?.from_email ?? r.sms?.sender ?? '', class: 'ellipsis' },
              ]}
            />
          </Card>
        )}
      </Load>
    </Page>
  );
}

const SECRET_SHOWN = /\*{8}/;

function ResourceForm({ stored }: { stored: ResourceRow | null }) {
  const form = useForm(['name', 'channels', 'tracking_domain', 'email', 'sms', 'push']);
  const can = useCan();
  const [name, setName] = useState(stored?.name ?? '');
  const [channels, setChannels] = useState<string[]>(stored?.channels ?? ['email']);
  const [fromEmail, setFromEmail] = useState(stored?.email?.from_email ?? '');
  const [fromName, setFromName] = useState(stored?.email?.from_name ?? '');
  const [replyTo, setReplyTo] = useState(stored?.email?.replyto_email ?? '');
  const [sender, setSender] = useState(stored?.sms?.sender ?? '');
  const [smppUrl, setSmppUrl] = useState('');
  const storedUrl = stored?.sms?.smpp?.url;
  const [trackingDomain, setTrackingDomain] = useState(stored?.tracking_domain ?? '');
  const [trackOpens, setTrackOpens] = useState(stored?.email?.track_opens === true);
  const [trackClicks, setTrackClicks] = useState(stored?.email?.track_clicks === true);
  const [emailMore, setEmailMore] = useState(otherSettings(stored?.email, EMAIL_SHOWN));
  const [smsMore, setSmsMore] = useState(otherSettings(stored?.sms, SMS_SHOWN));
  const [pushJson, setPushJson] = useState(otherSettings(stored?.push, []));
  const [jsonError, setJsonError] = useState<string>();
  const toggle = (c: string, on: boolean) => setChannels(on ? [...channels, c] : channels.filter((x) => x !== c));
  const save = async (e: Event) => {
    e.preventDefault();
    setJsonError(undefined);
    let more: { email: Record<string, unknown>; sms: Record<string, unknown>; push: Record<string, unknown> | undefined };
    try {
      more = { email: parseJsonObject(emailMore, 'Other email settings') ?? {}, sms: parseJsonObject(smsMore, 'Other SMS settings') ?? {}, push: parseJsonObject(pushJson, 'Push settings') };
    } catch (err) {
      setJsonError((err as Error).message);
      return;
    }
    const body: Record<string, unknown> = { name, channels, ...(trackingDomain || stored?.tracking_domain ? { tracking_domain: trackingDomain } : {}) };
    if (channels.includes('email')) {
      body.email = { ...more.email, from_email: fromEmail, ...(fromName ? { from_name: fromName } : {}), ...(replyTo ? { replyto_email: replyTo } : {}), track_opens: trackOpens, track_clicks: trackClicks };
    }
    if (channels.includes('sms')) {
      // An empty URL keeps the stored one: sent back as resources/get showed it.
      const url = smppUrl || storedUrl;
      body.sms = { ...more.sms, ...(sender ? { sender } : {}), ...(url ? { smpp: { ...(stored?.sms?.smpp ?? {}), url } } : {}) };
    }
    if (channels.includes('push') && more.push) body.push = more.push;
    const made = stored ? await form.submit('resources/update', { id: stored.id, ...body }) : await form.submit('resources/add', body);
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
        <TextInput
          form={form}
          name="tracking_domain"
          label="Tracking domain"
          value={trackingDomain}
          onInput={setTrackingDomain}
          placeholder="trk.shop.example"
          hint="Where email's unsubscribe, open and click links point (else SALVO_PUBLIC_URL)"
        />
        {channels.includes('email') && (
          <fieldset class="rows">
            <legend>Email sender</legend>
            <TextInput form={form} name="email" label="From address" type="email" value={fromEmail} onInput={setFromEmail} required />
            <TextInput form={form} name="email.from_name" label="From name" value={fromName} onInput={setFromName} />
            <TextInput form={form} name="email.replyto_email" label="Reply-To address" type="email" value={replyTo} onInput={setReplyTo} />
            <label class="inline">
              <input type="checkbox" name="email.track_opens" checked={trackOpens} onChange={(e) => setTrackOpens(e.currentTarget.checked)} /> Track opens (an invisible pixel)
            </label>
            <label class="inline">
              <input type="checkbox" name="email.track_clicks" checked={trackClicks} onChange={(e) => setTrackClicks(e.currentTarget.checked)} /> Track clicks (links through signed redirects)
            </label>
            <TextArea
              form={form}
              name="email.more"
              label="Other email settings (JSON)"
              value={emailMore}
              onInput={setEmailMore}
              rows={5}
              hint='dkim {domain, selector, private_key}, limits {per_second, per_hour, per_domain_connections}, unsubscribe_mailto (docs/api.md, Resources); a secret shown as stored is kept'
            />
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
            <TextArea
              form={form}
              name="sms.more"
              label="Other SMS settings (JSON)"
              value={smsMore}
              onInput={setSmsMore}
              rows={4}
              hint="http {url, ...} for an HTTP gateway, limits {per_second, per_hour} (docs/api.md, SMS settings)"
            />
          </fieldset>
        )}
        {channels.includes('push') && (
          <fieldset class="rows">
            <legend>Push</legend>
            <TextArea
              form={form}
              name="push"
              label="Push settings (JSON)"
              value={pushJson}
              onInput={setPushJson}
              rows={6}
              hint="the providers: vapid, fcm, apns and their keys (docs/api.md, Push settings); a secret shown as stored is kept"
            />
          </fieldset>
        )}
        {jsonError && (
          <p class="field-error" role="alert">
            {jsonError}
          </p>
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
  const stored = useLoad(() => (id === null ? Promise.resolve(null) : get('resources/get', { id })), [id]);
  const can = useCan();
  return (
    <Page title={id === null ? 'New resource' : `Resource: ${stored.value?.name ?? `#${id}`}`}>
      <Load loaded={stored}>{(r) => (can('write') ? <ResourceForm key={r?.id ?? 'new'} stored={r} /> : <Card><pre class="json">{JSON.stringify(r, null, 2)}</pre></Card>)}</Load>
    </Page>
  );
}
