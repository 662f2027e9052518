/**
 * Webhook endpoints: the list, a new one (its secret shown once), and one endpoint with a test post,
 * its deliveries and their redelivery. Secrets are write-only: the API never shows one again.
 */
import { useState } from 'preact/hooks';
import { call, get } from '../api.ts';
import { WEBHOOK_EVENTS } from '../openapi-values.ts';
import { Card, Fields, ListTable, Load, Page, StatusBadge, Time } from '../components.tsx';
import { FormError, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { navigate } from '../router.ts';

/** The event types webhooks/add takes, from its schema in /openapi.json (docs/api.md, Webhooks): "*" (all) first. */
const EVENTS = ['*', ...WEBHOOK_EVENTS.filter((e) => e !== '*')];

export function WebhooksPage() {
  const list = useLoad(() => get('webhooks/list'), []);
  const can = useCan();
  return (
    <Page title="Webhooks" actions={can('write') && <a class="button" href="#/webhooks/new">New webhook</a>}>
      <Load loaded={list}>
        {(rows) => (
          <Card>
            <ListTable
              rows={rows}
              rowKey={(w) => w.id}
              empty="No webhook endpoint: Salvo posts message, launch and task events to the endpoints you add."
              columns={[
                { head: 'URL', cell: (w) => <a href={`#/webhooks/${w.id}`}>{w.url}</a>, class: 'ellipsis' },
                { head: 'Events', cell: (w) => w.events.join(', ') },
                { head: 'State', cell: (w) => <StatusBadge status={w.enabled ? (w.failing_since ? 'failing' : 'active') : 'disabled'} /> },
              ]}
            />
          </Card>
        )}
      </Load>
    </Page>
  );
}

export function NewWebhookPage() {
  const form = useForm(['url', 'events', 'secret']);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['message.failed']);
  const [made, setMade] = useState<{ id: number; secret: string } | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    const answer = await form.submit('webhooks/add', { url, events });
    if (answer) setMade(answer);
  };
  return (
    <Page title="New webhook">
      <Card>
        {made ? (
          <div class="result" role="status">
            <p>Endpoint added. Its signing secret, shown only now:</p>
            <code class="secret">{made.secret}</code>
            <p>
              <a href={`#/webhooks/${made.id}`}>Open the endpoint</a>
            </p>
          </div>
        ) : (
          <form class="form" name="webhook" onSubmit={save}>
            <TextInput form={form} name="url" label="URL" type="url" value={url} onInput={setUrl} required placeholder="https://backend.example/salvo-events" />
            <fieldset class="rows">
              <legend>Events</legend>
              {EVENTS.map((ev) => (
                <label class="inline">
                  <input type="checkbox" checked={events.includes(ev)} onChange={(e) => setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))} /> {ev === '*' ? '* (every event)' : ev}
                </label>
              ))}
              {form.errors.events && <span class="field-error" role="alert">{form.errors.events}</span>}
            </fieldset>
            <FormError form={form} />
            <button type="submit" disabled={form.busy}>
              Add webhook
            </button>
          </form>
        )}
      </Card>
    </Page>
  );
}

export function WebhookPage({ id }: { id: number }) {
  const hook = useLoad(() => get('webhooks/get', { id }), [id]);
  const deliveries = useLoad(() => get('webhooks/deliveries', { id, limit: 50 }), [id], 5000);
  const can = useCan();
  const [said, setSaid] = useState<{ ok?: string; error?: string }>({});
  const test = async () => {
    try {
      const r = (await call('webhooks/test', { id })).data;
      setSaid(r.ok ? { ok: `The endpoint answered ${r.status_code} in ${r.ms} ms.` } : { error: `The endpoint answered ${r.status_code ?? 'nothing'}${r.error ? `: ${r.error}` : ''}.` });
    } catch (e) {
      setSaid({ error: (e as Error).message });
    }
  };
  const redeliver = async (body: Record<string, unknown>) => {
    try {
      const r = (await call('webhooks/redeliver', { id, ...body })).data;
      setSaid({ ok: `${r.queued} queued again.` });
      deliveries.reload();
    } catch (e) {
      setSaid({ error: (e as Error).message });
    }
  };
  return (
    <Page
      title={`Webhook #${id}`}
      actions={
        can('write') && (
          <>
            <button type="button" onClick={test}>
              Send a test event
            </button>
            <button type="button" class="secondary" onClick={() => redeliver({ status: 'failed' })}>
              Redeliver failed
            </button>
            <button
              type="button"
              class="secondary"
              onClick={async () => {
                if (!confirm('Delete this endpoint and its deliveries?')) return;
                await call('webhooks/delete', { id });
                navigate('#/webhooks');
              }}
            >
              Delete
            </button>
          </>
        )
      }
    >
      {said.ok && <div class="result" role="status">{said.ok}</div>}
      {said.error && <div class="error" role="alert">{said.error}</div>}
      <Load loaded={hook}>
        {(w) => (
          <Card title="Endpoint">
            <Fields
              rows={[
                ['URL', w.url],
                ['Events', w.events.join(', ')],
                ['State', <StatusBadge status={w.enabled ? 'active' : 'disabled'} />],
                ['Disabled because', w.disabled_reason],
                ['Failing since', w.failing_since && <Time iso={w.failing_since} />],
              ]}
            />
          </Card>
        )}
      </Load>
      <Card title="Deliveries">
        <Load loaded={deliveries}>
          {(rows) =>
            rows.length === 0 ? (
              <p class="muted">No deliveries yet.</p>
            ) : (
              <table class="table compact" id="deliveries">
                <thead>
                  <tr>
                    <th>Event</th>
                    <th>Status</th>
                    <th>Last answer</th>
                    <th>Created</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {rows.map((d) => {
                    const last = d.attempts.at(-1);
                    return (
                      <tr key={d.id}>
                        <td>{d.type}</td>
                        <td>
                          <StatusBadge status={d.status} />
                        </td>
                        <td class="ellipsis">{last ? (last.status_code ?? last.error ?? '') : ''}</td>
                        <td>
                          <Time iso={d.created} />
                        </td>
                        <td>
                          {can('write') && d.status !== 'queued' && (
                            <button type="button" class="secondary" onClick={() => redeliver({ delivery_ids: [d.id] })}>
                              Redeliver #{d.id}
                            </button>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )
          }
        </Load>
      </Card>
    </Page>
  );
}
