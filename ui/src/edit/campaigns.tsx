/**
 * A trigger campaign's form, new (`#/campaigns/new`) or stored (`#/campaigns/<id>/edit`): channel,
 * database, resource, its templates as A/B variants with weights, the content filter, skip window and
 * whether it is active. Activation and deactivation stay on the campaign's page.
 */
import { useState } from 'preact/hooks';
import { type Campaign, get } from '../api.ts';
import { Card, Load, Page } from '../components.tsx';
import { FormError, parseJsonObject, Select, TextArea, TextInput, useForm } from '../forms.tsx';
import { useLoad } from '../hooks.ts';
import { navigate } from '../router.ts';
import type { DatabaseRow } from './databases.tsx';
import type { ResourceRow } from './resources.tsx';
import type { TemplateRow } from './templates.tsx';

interface Variant {
  message_id: string;
  weight: string;
}

function CampaignForm({ stored, dbs, resources, templates }: { stored: Campaign | null; dbs: DatabaseRow[]; resources: ResourceRow[]; templates: TemplateRow[] }) {
  const form = useForm(['name', 'send_channel', 'db_id', 'resource_id', 'content', 'content_filter', 'skip_minutes', 'is_active']);
  const [name, setName] = useState(stored?.name ?? '');
  const [channel, setChannel] = useState(stored?.send_channel ?? 'email');
  const [db, setDb] = useState(String(stored?.db_id ?? dbs[0]?.id ?? ''));
  const [resource, setResource] = useState(String(stored?.resource_id ?? resources[0]?.id ?? ''));
  const [variants, setVariants] = useState<Variant[]>(stored?.content.map((v) => ({ message_id: String(v.message_id), weight: String(v.weight ?? 1) })) ?? [{ message_id: String(templates[0]?.id ?? ''), weight: '1' }]);
  const [filter, setFilter] = useState(stored?.content_filter ? JSON.stringify(stored.content_filter, null, 2) : '');
  const [skip, setSkip] = useState(String(stored?.skip_minutes ?? 0));
  const [active, setActive] = useState(stored?.is_active ?? true);
  const [local, setLocal] = useState<string | null>(null);
  const setVariant = (i: number, patch: Partial<Variant>) => setVariants(variants.map((v, j) => (j === i ? { ...v, ...patch } : v)));
  const save = async (e: Event) => {
    e.preventDefault();
    setLocal(null);
    let contentFilter: Record<string, unknown> | undefined;
    try {
      contentFilter = parseJsonObject(filter, 'Content filter');
    } catch (err) {
      setLocal((err as Error).message);
      return;
    }
    const original = stored?.content ?? [];
    // Each variant keeps its stored overrides (subject, sender); the form sets template and weight.
    const content = variants.map((v, i) => ({ ...(original[i] ?? {}), message_id: Number(v.message_id), ...(variants.length > 1 ? { weight: Number(v.weight) } : {}) }));
    const body: Record<string, unknown> = { name, db_id: Number(db), resource_id: Number(resource), content, content_filter: contentFilter ?? null, skip_minutes: Number(skip), is_active: active };
    const saved = stored
      ? await form.submit('campaigns/triggers/update', { id: stored.id, ...body })
      : await form.submit('campaigns/triggers/add', { ...body, trigger_type: 'api_call', send_channel: channel });
    if (saved) navigate(`#/campaigns/${stored?.id ?? (saved as { id: number }).id}`);
  };
  const templateOptions = templates.map((t) => [String(t.id), `${t.name} (${t.channels.map((c) => c.sid).join(', ')})`] as [string, string]);
  return (
    <Card>
      <form class="form" name="campaign" onSubmit={save}>
        <TextInput form={form} name="name" label="Name" value={name} onInput={setName} required />
        {stored ? (
          <p class="small">Channel: {stored.send_channel} (fixed after creation)</p>
        ) : (
          <Select form={form} name="send_channel" label="Channel" value={channel} options={['email', 'sms', 'push']} onChange={setChannel} />
        )}
        <Select form={form} name="db_id" label="Profile database" value={db} options={dbs.map((d) => [String(d.id), d.name])} onChange={setDb} />
        <Select form={form} name="resource_id" label="Resource (sender)" value={resource} options={resources.map((r) => [String(r.id), r.name])} onChange={setResource} />
        <fieldset class="rows">
          <legend>Content: the template, or A/B variants with weights</legend>
          {variants.map((v, i) => (
            <div class="row wrap" key={i}>
              <Select form={form} name={`content[${i}].message_id`} label={variants.length > 1 ? `Variant ${i} template` : 'Template'} value={v.message_id} options={templateOptions} onChange={(x) => setVariant(i, { message_id: x })} />
              {variants.length > 1 && <TextInput form={form} name={`content[${i}].weight`} label={`Variant ${i} weight`} type="number" value={v.weight} onInput={(x) => setVariant(i, { weight: x })} />}
              {variants.length > 1 && (
                <button type="button" class="secondary" onClick={() => setVariants(variants.filter((_, j) => j !== i))}>
                  Remove variant {i}
                </button>
              )}
            </div>
          ))}
          {form.errors.content && <span class="field-error" role="alert">{form.errors.content}</span>}
          {variants.length < 10 && (
            <button type="button" class="secondary" onClick={() => setVariants([...variants, { message_id: String(templates[0]?.id ?? ''), weight: '1' }])}>
              Add an A/B variant
            </button>
          )}
        </fieldset>
        <TextArea form={form} name="content_filter" label="Content filter (a MongoDB query over the call's content; empty: none)" value={filter} onInput={setFilter} rows={3} />
        {local && <span class="field-error" role="alert">{local}</span>}
        <TextInput form={form} name="skip_minutes" label="Skip a profile that got this campaign within (minutes, 0: never)" type="number" value={skip} onInput={setSkip} />
        <label class="inline">
          <input type="checkbox" name="is_active" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} /> Active (can be started)
        </label>
        <FormError form={form} />
        <button type="submit" disabled={form.busy}>
          {stored ? 'Save campaign' : 'Create campaign'}
        </button>
      </form>
    </Card>
  );
}

export function CampaignEditPage({ id }: { id: number | null }) {
  const loaded = useLoad(
    async () => {
      const [stored, dbs, resources, templates] = await Promise.all([
        id === null ? null : get('campaigns/triggers/get', { id }),
        get('databases/list'),
        get('resources/list'),
        get('templates/list'),
      ]);
      return { stored, dbs, resources, templates };
    },
    [id],
  );
  return (
    <Page title={id === null ? 'New campaign' : `Edit campaign #${id}`}>
      <Load loaded={loaded}>
        {(l) =>
          l.dbs.length && l.resources.length && l.templates.length ? (
            <CampaignForm stored={l.stored} dbs={l.dbs} resources={l.resources} templates={l.templates} />
          ) : (
            <Card>
              <p>
                A campaign needs a <a href="#/databases/new">database</a>, a <a href="#/resources/new">resource</a> and a <a href="#/templates/new">template</a> first.
              </p>
            </Card>
          )
        }
      </Load>
    </Page>
  );
}
