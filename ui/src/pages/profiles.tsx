/** Profiles: look one up by email, phone or id in a database; its fields and subscriptions. */
import { useState } from 'preact/hooks';
import { get } from '../api.ts';
import { Card, ErrorBox, Fields, Json, Load, Page, StatusBadge } from '../components.tsx';
import { useLoad } from '../hooks.ts';
import { SubscriptionStatus } from '../edit/profiles.tsx';
import { useCan } from '../role.ts';
import { href, navigate } from '../router.ts';

const BY = [
  ['email', 'Email'],
  ['phone', 'Phone'],
  ['profile_id', 'Profile id'],
] as const;

function ProfileView({ db, by, value }: { db: number; by: string; value: string }) {
  // A custom field is looked up by matching custom (field_name, field_value), as profiles/get takes it.
  const match = by.startsWith('custom:') ? { matching: 'custom', field_name: by.slice(7), field_value: value } : { matching: by, [by]: value };
  const profile = useLoad(() => get('profiles/get', { db_id: db, ...match }), [db, by, value]);
  return (
    <Load loaded={profile}>
      {(p) => {
        const { subscriptions = [], ...fields } = p;
        return (
          <div class="grid2">
            <Card title={`Profile ${p._id}`}>
              <Fields
                rows={Object.entries(fields).map(([k, v]) => [
                  k,
                  k === '_status' ? (
                    <StatusBadge status={String(v)} />
                  ) : Array.isArray(v) && v.every((x) => typeof x !== 'object') ? (
                    v.join(', ') || <span class="muted">–</span>
                  ) : typeof v === 'object' && v !== null ? (
                    <Json value={v} />
                  ) : (
                    String(v)
                  ),
                ])}
              />
              <p>
                <a href={href('messages', { profile_id: p._id })}>Messages to this profile</a>
              </p>
            </Card>
            <Card title="Subscriptions">
              {subscriptions.length === 0 ? (
                <p class="muted">None.</p>
              ) : (
                <table class="table compact">
                  <thead>
                    <tr>
                      <th>Resource</th>
                      <th>Channel</th>
                      <th>Address</th>
                      <th>Status</th>
                      <th class="num">Priority</th>
                    </tr>
                  </thead>
                  <tbody>
                    {subscriptions.map((s) => (
                      <tr>
                        <td>{s.resource_id}</td>
                        <td>{s.channel}</td>
                        <td class="ellipsis">{s.email ?? s.phone ?? `${s.provider ?? ''} ${s.subscription_id ?? ''}`}</td>
                        <td>
                          <SubscriptionStatus db={db} profile={p._id} sub={s} onSaved={profile.reload} />
                        </td>
                        <td class="num">{s.priority}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
          </div>
        );
      }}
    </Load>
  );
}

export function ProfilesPage({ query }: { query: Record<string, string> }) {
  const dbs = useLoad(() => get('databases/list'), []);
  const [db, setDb] = useState(query.db ?? '');
  const [by, setBy] = useState(query.by ?? 'email');
  const [value, setValue] = useState(query.value ?? '');
  const chosenDb = db || (dbs.value?.[0] ? String(dbs.value[0].id) : '');
  const can = useCan();
  return (
    <Page
      title="Profiles"
      actions={
        can('write') && (
          <>
            <a class="button secondary" href="#/profiles/import">
              Import CSV
            </a>
            <a class="button" href={href('profiles/new', { db: chosenDb })}>
              New profile
            </a>
          </>
        )
      }
    >
      <ErrorBox error={dbs.error} />
      <form
        class="filters"
        name="lookup"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href('profiles', { db: chosenDb, by, value: value.trim() }));
        }}
      >
        <label>
          Database
          <select name="db" value={chosenDb} onChange={(e) => setDb(e.currentTarget.value)}>
            {(dbs.value ?? []).map((d) => (
              <option value={String(d.id)}>
                {d.name} (#{d.id})
              </option>
            ))}
          </select>
        </label>
        <label>
          Find by
          <select name="by" value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            {[...BY, ...((dbs.value ?? []).find((d) => String(d.id) === chosenDb)?.fields ?? []).map((f) => [`custom:${f.name}`, f.name] as const)].map(([v, l]) => (
              <option value={v}>{l}</option>
            ))}
          </select>
        </label>
        <label class="grow">
          Value
          <input name="value" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        </label>
        <button type="submit">Look up</button>
      </form>
      {query.db && query.value ? <ProfileView key={`${query.db}/${query.by}/${query.value}`} db={Number(query.db)} by={query.by ?? 'email'} value={query.value} /> : <p class="muted">Look a profile up by its email, phone or id.</p>}
    </Page>
  );
}
