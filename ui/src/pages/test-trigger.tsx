/** A campaign's test trigger: one profile, a `content` JSON; a dry run's preview first if wanted, then a real send. */
import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { type Campaign, call, type DryRun, get, type Message } from '../api.ts';
import { Card, ErrorBox, Fields, HtmlFrame, StatusBadge } from '../components.tsx';
import { href } from '../router.ts';

const MATCHING = [
  ['email', 'Email'],
  ['phone', 'Phone'],
  ['profile_id', 'Profile id'],
] as const;

/** 128 random bits in hex (crypto.randomUUID exists only on HTTPS and localhost pages). */
const requestId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

const PENDING = ['queued', 'waiting', 'sending'];

interface TriggerResult {
  launchId: number | null;
  duplicate: boolean;
  messages: Message[];
  /** Outbox captures by message id: where a message captured for want of a provider can be read. */
  captured?: Record<number, number>;
}

function parseContent(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text || '{}');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('content must be a JSON object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new Error(`content: ${(err as Error).message}`);
  }
}

/** What a dry run answered: counts, skip reasons, errors, and each previewed message as it would be sent. */
function DryRunPreview({ dry }: { dry: DryRun }) {
  const reasons = Object.entries(dry.skip_reasons);
  return (
    <section class="dry-run" aria-label="Dry run preview">
      <h3>Dry run: nothing was stored or sent</h3>
      {dry.filtered && <p class="bad">The content does not match the campaign's content filter: a real call sends nothing.</p>}
      <Fields
        rows={[
          ['Audience', dry.audience],
          ['Would be sent', dry.queued],
          ['Would be skipped', reasons.length ? `${dry.skipped} (${reasons.map(([r, n]) => `${r}: ${n}`).join(', ')})` : dry.skipped],
          ...(dry.complete ? [] : ([['Complete', <span class="bad">no: the time for a dry run ran out; counts are of the profiles read so far</span>]] as [string, ComponentChildren][])),
        ]}
      />
      {dry.errors.map((e) => (
        <p class="error">
          {e.profile_id !== undefined ? `Profile ${e.profile_id ?? '(new)'}` : `Item ${e.index}`}: {e.error}: {e.error_text}
        </p>
      ))}
      {dry.preview.map((p) => (
        <div class="preview-item">
          <Fields
            rows={[
              ['To', `${p.address ?? '–'} (${p.channel})`],
              ['Variant', `${p.variant} (template #${p.template_id})`],
              ...(p.from ? ([['From', p.from]] as [string, ComponentChildren][]) : []),
              ['Subject', p.subject],
              ...Object.entries(p.headers ?? {}).map(([name, value]) => [name, <code class="copy">{value}</code>] as [string, ComponentChildren]),
            ]}
          />
          {p.html && <HtmlFrame html={p.html} title="preview HTML" />}
          {p.text && <pre class="text-body">{p.text}</pre>}
        </div>
      ))}
      <p class="muted small">Press Send now to send it for real.</p>
    </section>
  );
}

/** Sends the campaign to one profile through campaigns/triggers/start (after a dry run if asked) and shows what it made. */
export function TestTrigger({ campaign, onLaunched }: { campaign: Campaign; onLaunched: () => void }) {
  const form = useRef<HTMLFormElement>(null);
  const [matching, setMatching] = useState<string>('email');
  const [value, setValue] = useState('');
  const [content, setContent] = useState('{}');
  const [busy, setBusy] = useState<'preview' | 'send'>();
  const [error, setError] = useState<Error>();
  const [dry, setDry] = useState<DryRun>();
  const [result, setResult] = useState<TriggerResult>();
  // A preview is of the form as it was: any edit makes it stale, so it goes.
  const edit = (set: (v: string) => void) => (v: string) => {
    set(v);
    setDry(undefined);
  };
  const body = () => ({ id: campaign.id, matching, [matching]: value.trim(), content: parseContent(content) });

  const preview = async () => {
    setError(undefined);
    setResult(undefined);
    setDry(undefined);
    setBusy('preview');
    try {
      const answer = await get('campaigns/triggers/start', { ...body(), dry_run: true });
      // With dry_run the answer is the dry run's, never a launch's.
      if (answer && 'preview' in answer) setDry(answer);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(undefined);
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    setBusy('send');
    try {
      // Each press is its own trigger: a fresh Request-ID keeps deduplication from answering the previous one.
      const answer = await call('campaigns/triggers/start', body(), { 'Request-ID': requestId() });
      const launchId = Number(answer.headers.get('Launch-Id')) || null;
      const duplicate = answer.headers.get('Duplicate-Request') === 'true';
      setDry(undefined);
      setBusy(undefined);
      onLaunched();
      // Follow the message until it leaves the queue (a few seconds at most when the workers run).
      for (let i = 0; launchId && i < 30; i++) {
        const messages = await get('messages/list', { launch_id: launchId });
        if (!messages.some((m) => PENDING.includes(m.status))) {
          const captures = await Promise.all(messages.map((m) => get('outbox/list', { message_id: m.id, limit: 1 })));
          setResult({ launchId, duplicate, messages, captured: Object.fromEntries(captures.flatMap((c) => c.map((e) => [e.message_id, e.id]))) });
          break;
        }
        setResult({ launchId, duplicate, messages });
        await new Promise((r) => setTimeout(r, 1000));
      }
      onLaunched();
      if (!launchId) setResult({ launchId, duplicate, messages: [] });
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <Card title="Test trigger">
      <form class="form" onSubmit={send} name="test-trigger" ref={form}>
        <div class="row">
          <label>
            Find the profile by
            <select name="matching" value={matching} onChange={(e) => edit(setMatching)(e.currentTarget.value)}>
              {MATCHING.map(([v, l]) => (
                <option value={v}>{l}</option>
              ))}
            </select>
          </label>
          <label class="grow">
            Value
            <input name="value" value={value} onInput={(e) => edit(setValue)(e.currentTarget.value)} required placeholder={matching === 'email' ? 'john@example.com' : matching === 'phone' ? '+79000000000' : '24 hex characters'} />
          </label>
        </div>
        <label>
          content (JSON: {'{apicontent.*}'} in the template)
          <textarea name="content" rows={4} value={content} onInput={(e) => edit(setContent)(e.currentTarget.value)} spellcheck={false} />
        </label>
        <p class="muted small">
          <b>Preview (dry run)</b> shows what would be sent, rendered, and stores nothing. <b>Send now</b> sends it for real (to the outbox when no SMTP server is
          configured).
        </p>
        <div class="buttons">
          <button type="button" class="secondary" disabled={!!busy || !campaign.is_active} onClick={() => form.current?.reportValidity() && preview()}>
            {busy === 'preview' ? 'Previewing…' : 'Preview (dry run)'}
          </button>{' '}
          <button type="submit" disabled={!!busy || !campaign.is_active}>
            {busy === 'send' ? 'Sending…' : 'Send now'}
          </button>
          {!campaign.is_active && <span class="muted small"> Activate the campaign to preview or send.</span>}
        </div>
      </form>
      <ErrorBox error={error} />
      {dry && <DryRunPreview dry={dry} />}
      {result && (
        <div class="result" role="status">
          <p>
            Launched{result.launchId && (
              <>
                {' '}
                as <a href={href('messages', { launch_id: result.launchId })}>launch #{result.launchId}</a>
              </>
            )}
            {result.duplicate && ' (a repeat: deduplication answered the first call)'}.
          </p>
          {result.messages.map((m) => (
            <p>
              <a href={`#/messages/${m.id}`}>Message #{m.id}</a> to {m.address ?? m.profile_id}: <StatusBadge status={m.status} />
              {m.variant !== null && <span class="muted"> variant {m.variant}</span>}
              {m.skip_reason && <span class="muted"> ({m.skip_reason})</span>}
              {result.captured?.[m.id] && (
                <>
                  {' '}
                  — <a href={`#/outbox/${result.captured[m.id]}`}>captured in the outbox</a> (no provider is set up for {m.channel})
                </>
              )}
            </p>
          ))}
        </div>
      )}
    </Card>
  );
}
