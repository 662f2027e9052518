/**
 * Templates: the list, and the editor: each channel's fields, the variables a database offers, the
 * warnings the API answers on save, and a live preview of the template as edited, rendered by the server
 * through the dry-run path (templates/preview: a campaign that would send it, a recipient and content you
 * choose; nothing is stored or sent).
 */
import { useEffect, useState } from 'preact/hooks';
import { type Campaign, call, type DataOf, type DryRun, get } from '../api.ts';
import { Card, HtmlFrame, ListTable, Load, Page } from '../components.tsx';
import { FormError, parseJsonObject, Select, TextArea, TextInput, useForm } from '../forms.tsx';
import { useCampaigns, useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { navigate } from '../router.ts';

export type TemplateRow = DataOf<'templates/list'>[number];

const CHANNEL_FIELDS: Record<string, [string, string, 'input' | 'area'][]> = {
  email: [
    ['subject', 'Subject', 'input'],
    ['html', 'HTML', 'area'],
    ['text', 'Text part (empty: made from the HTML)', 'area'],
  ],
  sms: [['text', 'SMS text', 'area']],
  push: [
    ['title', 'Push title', 'input'],
    ['body', 'Push body', 'area'],
    ['url', 'Push URL', 'input'],
  ],
};

export function TemplatesPage() {
  const list = useLoad(() => get('templates/list'), []);
  const can = useCan();
  return (
    <Page title="Templates" actions={can('write') && <a class="button" href="#/templates/new">New template</a>}>
      <Load loaded={list}>
        {(rows) => (
          <Card>
            <ListTable
              rows={rows}
              rowKey={(t) => t.id}
              empty="No template yet."
              columns={[
                { head: 'Name', cell: (t) => <a href={`#/templates/${t.id}`}>{t.name}</a> },
                { head: 'Channels', cell: (t) => t.channels.map((c) => c.sid).join(', ') },
              ]}
            />
          </Card>
        )}
      </Load>
    </Page>
  );
}

/** The variables a database offers a template: {lead.<field>} for its system and custom fields. */
function Variables() {
  const dbs = useLoad(() => get('databases/list'), []);
  const [db, setDb] = useState('');
  const chosen = db || String(dbs.value?.[0]?.id ?? '');
  const fields = useLoad(async () => (chosen ? (await call('databases/fields', { id: Number(chosen) })).data : []), [chosen]);
  const form = useForm([]);
  return (
    <Card title="Variables">
      {dbs.value && dbs.value.length > 0 && <Select form={form} name="variables-db" label="Database" value={chosen} options={dbs.value.map((d) => [String(d.id), d.name])} onChange={setDb} />}
      <ul class="chips" aria-label="Variables of the database">
        {(fields.value ?? []).map((f) => (
          <li>
            <code>{`{lead.${f.name}}`}</code> <span class="muted small">{f.type}</span>
          </li>
        ))}
        <li>
          <code>{'{apicontent.<path>}'}</code> <span class="muted small">the call's content</span>
        </li>
        <li>
          <code>{'{subscription.email}'}</code>, <code>{'{subscription.phone}'}</code>, <code>{'{unsubscribe}'}</code>
        </li>
      </ul>
    </Card>
  );
}

/**
 * The server's rendering of the template as edited (saved or not): templates/preview, a dry run of a
 * campaign that would send it, for a recipient and content; it runs again a moment after each change.
 */
function Preview({ templateId, channels }: { templateId: number | null; channels: { sid: string; fields: Record<string, string> }[] }) {
  const campaigns = useCampaigns();
  // Campaigns that send this template first: the preview renders the campaign's channel, from its resource.
  const all = [...(campaigns.value ?? [])].sort((x: Campaign, y: Campaign) => Number(y.content.some((v) => v.message_id === templateId)) - Number(x.content.some((v) => v.message_id === templateId)));
  const [campaign, setCampaign] = useState('');
  const [email, setEmail] = useState('');
  const [content, setContent] = useState('{}');
  const [result, setResult] = useState<{ dry?: DryRun; error?: string }>({});
  const chosen = all.find((c) => String(c.id) === campaign) ?? all[0];
  const form = useForm(['content', 'email']);
  const edited = JSON.stringify(channels);
  useEffect(() => {
    if (!chosen || !email) return;
    const t = setTimeout(async () => {
      try {
        const who = chosen.send_channel === 'sms' && !email.includes('@') ? { matching: 'phone', phone: email } : { email };
        const body = { campaign_id: chosen.id, ...(templateId ? { template_id: templateId } : {}), channels, ...who, content: parseJsonObject(content, 'content') ?? {} };
        setResult({ dry: (await call('templates/preview', body)).data });
      } catch (e) {
        setResult({ error: (e as Error).message });
      }
    }, 400);
    return () => clearTimeout(t);
  }, [chosen?.id, email, content, edited]);
  if (campaigns.value && all.length === 0) return <Card title="Preview"><p class="muted">The preview renders through a campaign (its database, resource and channel): create one (Campaigns, New campaign) and come back.</p></Card>;
  const item = result.dry?.preview[0];
  return (
    <Card title="Preview (rendered by the server, nothing sent)">
      <div class="form">
        <Select form={form} name="preview-campaign" label="Campaign" value={String(chosen?.id ?? '')} options={all.map((c) => [String(c.id), `${c.name} (${c.send_channel})`])} onChange={setCampaign} />
        <TextInput form={form} name="email" label="Recipient (email, or phone for SMS)" value={email} onInput={setEmail} placeholder="john@example.com" />
        <TextArea form={form} name="content" label="content (JSON)" value={content} onInput={setContent} rows={3} />
      </div>
      {result.error && <div class="error" role="alert">{result.error}</div>}
      {result.dry?.errors.map((e) => <div class="error" role="alert">{e.error_text}</div>)}
      {(result.dry?.warnings ?? []).length > 0 && (
        <ul class="warnings" aria-label="Warnings">
          {result.dry!.warnings!.map((w) => <li>{w}</li>)}
        </ul>
      )}
      {result.dry && !item && <p class="muted">No message would be sent: {result.dry.filtered ? "the content does not match the campaign's content filter" : JSON.stringify(result.dry.skip_reasons)}</p>}
      {item && (
        <div class="preview-item">
          {item.from && <p><strong>From:</strong> {item.from}</p>}
          {item.subject !== null && <p><strong>{item.channel === 'push' ? 'Title' : 'Subject'}:</strong> {item.subject}</p>}
          {item.html && <HtmlFrame html={item.html} title="preview HTML" />}
          {item.text !== null && <pre class="text-body">{item.text}</pre>}
          {item.sms && (
            <p class="small">
              SMS: {item.sms.encoding}, {item.sms.parts} part{item.sms.parts === 1 ? '' : 's'} ({item.text?.length ?? 0} characters)
            </p>
          )}
        </div>
      )}
    </Card>
  );
}

function TemplateForm({ stored }: { stored: TemplateRow | null }) {
  const form = useForm(['name', 'channels']);
  const can = useCan();
  const [name, setName] = useState(stored?.name ?? '');
  const [fields, setFields] = useState<Record<string, Record<string, string>>>(() => Object.fromEntries((stored?.channels ?? [{ sid: 'email', fields: {} }]).map((c) => [c.sid, { ...c.fields }])));
  const [warnings, setWarnings] = useState<string[]>([]);
  const setField = (sid: string, k: string, v: string) => setFields({ ...fields, [sid]: { ...fields[sid], [k]: v } });
  const save = async (e: Event) => {
    e.preventDefault();
    const channels = edited;
    const saved = stored ? await form.submit('templates/update', { id: stored.id, name, channels }) : await form.submit('templates/add', { name, channels });
    if (!saved) return;
    setWarnings(saved.warnings ?? []);
    if (!stored) navigate(`#/templates/${saved.id}`);
  };
  const edited = Object.entries(fields).map(([sid, f]) => ({ sid, fields: Object.fromEntries(Object.entries(f).filter(([, v]) => v !== '')) }));
  return (
    <div class="editor">
    <Card title="Template">
      <form class="form" name="template" onSubmit={save}>
        <TextInput form={form} name="name" label="Name" value={name} onInput={setName} required />
        <fieldset class="rows">
          <legend>Channels</legend>
          {['email', 'sms', 'push'].map((sid) => (
            <label class="inline">
              <input
                type="checkbox"
                checked={sid in fields}
                onChange={(e) => {
                  const next = { ...fields };
                  if (e.currentTarget.checked) next[sid] = {};
                  else delete next[sid];
                  setFields(next);
                }}
              />{' '}
              {sid}
            </label>
          ))}
        </fieldset>
        {Object.keys(fields).map((sid) => (
          <fieldset class="rows">
            <legend>{sid}</legend>
            {CHANNEL_FIELDS[sid].map(([k, label, kind]) =>
              kind === 'input' ? (
                <TextInput form={form} name={`channels.${sid}.${k}`} label={label} value={fields[sid][k] ?? ''} onInput={(v) => setField(sid, k, v)} />
              ) : (
                <TextArea form={form} name={`channels.${sid}.${k}`} label={label} value={fields[sid][k] ?? ''} onInput={(v) => setField(sid, k, v)} rows={k === 'html' ? 8 : 3} />
              ),
            )}
          </fieldset>
        ))}
        {form.errors.channels && <span class="field-error" role="alert">{form.errors.channels}</span>}
        <FormError form={form} />
        {warnings.length > 0 && (
          <ul class="warnings" aria-label="Warnings">
            {warnings.map((w) => <li>{w}</li>)}
          </ul>
        )}
        {can('write') && (
          <button type="submit" disabled={form.busy}>
            {stored ? 'Save template' : 'Create template'}
          </button>
        )}
      </form>
    </Card>
    <div>
      <Preview templateId={stored?.id ?? null} channels={edited} />
      <Variables />
    </div>
    </div>
  );
}

export function TemplatePage({ id }: { id: number | null }) {
  const stored = useLoad(() => (id === null ? Promise.resolve(null) : get('templates/get', { id })), [id]);
  return (
    <Page title={id === null ? 'New template' : `Template: ${stored.value?.name ?? `#${id}`}`}>
      <Load loaded={stored}>{(t) => <TemplateForm key={t?.id ?? 'new'} stored={t} />}</Load>
    </Page>
  );
}
