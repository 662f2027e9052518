/**
 * Profiles written from the console: a new profile with its first subscription (profiles/import), and a
 * subscription's status changed (subscriptions/set). Finding and showing profiles is pages/profiles.tsx.
 */
import { useState } from 'preact/hooks';
import { call, type DataOf, get } from '../api.ts';
import { SUBSCRIPTION_STATUSES } from '../openapi-values.ts';
import { Card, Load, Page } from '../components.tsx';
import { FormError, Select, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { href, navigate } from '../router.ts';
import type { DatabaseRow } from './databases.tsx';
import type { ResourceRow } from './resources.tsx';

export function NewProfilePage({ query }: { query: Record<string, string> }) {
  const lists = useLoad(async () => ({ dbs: await get('databases/list'), resources: await get('resources/list') }), []);
  return (
    <Page title="New profile">
      <Load loaded={lists}>{(l) => (l.dbs.length ? <ProfileForm dbs={l.dbs} resources={l.resources} db={query.db} /> : <Card><p>Create a <a href="#/databases/new">database</a> first.</p></Card>)}</Load>
    </Page>
  );
}

function ProfileForm({ dbs, resources, db: initialDb }: { dbs: DatabaseRow[]; resources: ResourceRow[]; db?: string }) {
  const form = useForm(['db_id', 'email', 'phone', 'data', 'subscriptions']);
  const [db, setDb] = useState(initialDb ?? String(dbs[0].id));
  const [email, setEmail] = useState('');
  const [phone, setPhone] = useState('');
  const [first, setFirst] = useState('');
  const [custom, setCustom] = useState<Record<string, string>>({});
  const [resource, setResource] = useState(String(resources[0]?.id ?? ''));
  const [subscribe, setSubscribe] = useState(true);
  const fields = dbs.find((d) => String(d.id) === db)?.fields ?? [];
  const save = async (e: Event) => {
    e.preventDefault();
    const data: Record<string, unknown> = { ...(email ? { email } : {}), ...(phone ? { phones: [phone] } : {}), ...(first ? { _fname: first } : {}) };
    for (const f of fields) {
      const v = custom[f.name];
      if (v === undefined || v === '') continue;
      data[f.name] = f.type === 'int' || f.type === 'float' ? Number(v) : f.type === 'bool' ? v === 'true' : f.type === 'tags' ? v.split(',').map((x) => x.trim()) : v;
    }
    const r = resources.find((x) => String(x.id) === resource);
    if (subscribe && r) {
      data.subscriptions = [
        ...(email && r.channels.includes('email') ? [{ resource_id: r.id, channel: 'email', email }] : []),
        ...(phone && r.channels.includes('sms') ? [{ resource_id: r.id, channel: 'sms', phone }] : []),
      ];
    }
    const matching = email ? { matching: 'email', email } : { matching: 'phone', phone };
    const answer = await form.submit('profiles/import', { db_id: Number(db), ...matching, data });
    if (answer !== undefined) navigate(href('profiles', { db, by: email ? 'email' : 'phone', value: email || phone }));
  };
  return (
    <Card>
      <form class="form" name="profile" onSubmit={save}>
        <Select form={form} name="db_id" label="Database" value={db} options={dbs.map((d) => [String(d.id), d.name])} onChange={setDb} />
        <TextInput form={form} name="email" label="Email" type="email" value={email} onInput={setEmail} />
        <TextInput form={form} name="phone" label="Phone (international, +7900…)" value={phone} onInput={setPhone} />
        <TextInput form={form} name="data" label="First name" value={first} onInput={setFirst} />
        {fields.map((f) => (
          <TextInput form={form} name={`data.${f.name}`} label={`${f.name} (${f.type}${f.type === 'tags' ? ', comma-separated' : ''})`} value={custom[f.name] ?? ''} onInput={(v) => setCustom({ ...custom, [f.name]: v })} />
        ))}
        {resources.length > 0 && (
          <fieldset class="rows">
            <legend>Subscription</legend>
            <label class="inline">
              <input type="checkbox" checked={subscribe} onChange={(e) => setSubscribe(e.currentTarget.checked)} /> Subscribe the email and phone to a resource
            </label>
            <Select form={form} name="subscriptions" label="Resource" value={resource} options={resources.map((r) => [String(r.id), `${r.name} (${r.channels.join(', ')})`])} onChange={setResource} />
          </fieldset>
        )}
        <FormError form={form} />
        <button type="submit" disabled={form.busy}>
          Save profile
        </button>
      </form>
    </Card>
  );
}

/** A subscription's status as a select that saves at once (subscriptions/set); plain text for a role that cannot write. */
type Subscription = DataOf<'profiles/get'>['subscriptions'][number];

export function SubscriptionStatus({ db, profile, sub, onSaved }: { db: number; profile: string; sub: Subscription; onSaved: () => void }) {
  const can = useCan();
  const [error, setError] = useState<string | null>(null);
  if (!can('write')) return <span>{sub.status}</span>;
  const address = sub.channel === 'email' ? { email: sub.email } : sub.channel === 'sms' ? { phone: sub.phone } : { provider: sub.provider ?? undefined, subscription_id: sub.subscription_id };
  return (
    <>
      <select
        aria-label={`Status of the ${sub.channel} subscription ${sub.email ?? sub.phone ?? sub.subscription_id ?? ''}`}
        value={sub.status}
        onChange={async (e) => {
          setError(null);
          try {
            await call('subscriptions/set', { db_id: db, profile_id: profile, resource_id: sub.resource_id, channel: sub.channel, ...address, status: e.currentTarget.value });
            onSaved();
          } catch (err) {
            setError((err as Error).message);
          }
        }}
      >
        {SUBSCRIPTION_STATUSES.map((s) => (
          <option value={s}>{s}</option>
        ))}
      </select>
      {error && (
        <span class="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
