/** API tokens (admin tokens only): each with its role and last use; a new one shown once; revoke. */
import { useState } from 'preact/hooks';
import { call, get } from '../api.ts';
import { Card, Load, Page, Time } from '../components.tsx';
import { FormError, Select, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';

const ROLES: [string, string][] = [
  ['viewer', 'viewer: read only'],
  ['editor', 'editor: everything but tokens and provider secrets'],
  ['trigger', 'trigger: launch methods only (for a backend)'],
  ['admin', 'admin: everything'],
];

export function TokensPage() {
  const list = useLoad(() => get('tokens/list'), []);
  const form = useForm(['name', 'role']);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [made, setMade] = useState<{ name: string; token: string } | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    const answer = await form.submit('tokens/add', { name, role });
    if (answer) {
      setMade(answer);
      setName('');
      list.reload();
    }
  };
  return (
    <Page title="Tokens">
      <div class="grid2">
        <Card title="New token">
          <form class="form" name="token" onSubmit={create}>
            <TextInput form={form} name="name" label="Name" value={name} onInput={setName} required />
            <Select form={form} name="role" label="Role" value={role} options={ROLES} onChange={setRole} />
            <FormError form={form} />
            <button type="submit" disabled={form.busy}>
              Create token
            </button>
          </form>
          {made && (
            <div class="result" role="status">
              <p>
                Token <strong>{made.name}</strong>, shown only now (Salvo keeps its hash):
              </p>
              <code class="secret">{made.token}</code>
            </div>
          )}
        </Card>
        <Card title="Tokens">
          <Load loaded={list}>
            {(rows) => (
              <table class="table" id="tokens">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Role</th>
                    <th>Last used</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {rows.map((t) => (
                    <tr key={t.name}>
                      <td>{t.name}</td>
                      <td title={t.grants}>{t.role}</td>
                      <td>{t.last_used ? <Time iso={t.last_used} /> : <span class="muted">never</span>}</td>
                      <td>
                        {t.name !== 'SALVO_TOKEN' && (
                          <button
                            type="button"
                            class="secondary"
                            onClick={async () => {
                              if (!confirm(`Revoke token ${t.name}? It stops working at once.`)) return;
                              await call('tokens/delete', { name: t.name });
                              list.reload();
                            }}
                          >
                            Revoke {t.name}
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Load>
        </Card>
      </div>
    </Page>
  );
}
