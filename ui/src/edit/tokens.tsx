/** API tokens (admin tokens only): each with its role and last use; a new one shown once; revoke. */
import { useState } from 'preact/hooks';
import { call, get } from '../api.ts';
import { Card, ListTable, Load, Page, Time } from '../components.tsx';
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
              <ListTable
                id="tokens"
                rows={rows}
                rowKey={(t) => t.name}
                columns={[
                  { head: 'Name', cell: (t) => t.name },
                  { head: 'Role', cell: (t) => <span title={t.grants}>{t.role}</span> },
                  { head: 'Last used', cell: (t) => (t.last_used ? <Time iso={t.last_used} /> : <span class="muted">never</span>) },
                  {
                    head: '',
                    cell: (t) =>
                      t.name !== 'SALVO_TOKEN' && (
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
                      ),
                  },
                ]}
              />
            )}
          </Load>
        </Card>
      </div>
    </Page>
  );
}
