/** Small pieces the pages share. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Loaded } from './hooks.ts';

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

/** A time as "3 min ago", the exact UTC time on hover. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">–</span>;
  return <time title={iso}>{ago(Date.parse(iso))}</time>;
}

function ago(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return `in ${duration(-s)}`;
  if (s < 5) return 'just now';
  return `${duration(s)} ago`;
}

export function duration(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export function ErrorBox({ error }: { error: Error | undefined }) {
  return error ? (
    <div class="error" role="alert">
      {error.message}
    </div>
  ) : null;
}

/** The error, a spinner on the first load, or the content once there is a value. */
export function Load<T>({ loaded, children }: { loaded: Loaded<T>; children: (value: T) => ComponentChildren }) {
  return (
    <>
      <ErrorBox error={loaded.error} />
      {loaded.value === undefined ? loaded.loading && <p class="muted">Loading…</p> : children(loaded.value)}
    </>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

/**
 * HTML from a message or template, in a sandboxed iframe: no scripts (the sandbox allows none, and the
 * console's CSP, which a srcdoc frame inherits, neither), no forms, no popups, no navigation of the
 * console. `allow-same-origin` without `allow-scripts` gives the email's HTML nothing to run with; it
 * lets the console size the frame to its content (and keeps the frame in the page's own process).
 */
export function HtmlFrame({ html, title }: { html: string; title: string }) {
  const frame = useRef<HTMLIFrameElement>(null);
  useEffect(() => {
    const f = frame.current;
    if (!f) return;
    // The document is at least as tall as the frame: shrink the frame first, then measure.
    const fit = () => {
      const doc = f.contentDocument?.documentElement;
      if (!doc) return;
      f.style.height = '120px';
      f.style.height = `${Math.min(Math.max(doc.scrollHeight + 4, 120), 900)}px`;
    };
    f.addEventListener('load', fit);
    fit();
    return () => f.removeEventListener('load', fit);
  }, [html]);
  return <iframe ref={frame} class="html-frame" sandbox="allow-same-origin" title={title} srcDoc={html} />;
}

export function Page({ title, actions, children }: { title: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page">
      <header class="page-head">
        <h1>{title}</h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Card({ title, children, class: cls = '' }: { title?: ComponentChildren; children: ComponentChildren; class?: string }) {
  return (
    <div class={`card ${cls}`}>
      {title && <h2>{title}</h2>}
      {children}
    </div>
  );
}

/** Rows of label and value. */
export function Fields({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="fields">
      {rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v ?? <span class="muted">–</span>}</dd>
        </>
      ))}
    </dl>
  );
}

/** settled (sent, captured, skipped) and failed of total, as a bar. */
export function Progress({ done, failed, total }: { done: number; failed: number; total: number }) {
  const pct = (n: number) => (total ? Math.min(100, (n / total) * 100) : 0);
  return (
    <div class="progress" title={`${done + failed} of ${total} done`}>
      <div class="progress-ok" style={{ width: `${pct(done)}%` }} />
      <div class="progress-failed" style={{ width: `${pct(failed)}%` }} />
    </div>
  );
}

export const looksLikeHtml = (s: string) => /<(html|body|p|div|table|br|a|span|h[1-6]|ul|img)\b/i.test(s);

/** A labelled select whose first choice is "any" (the empty value): a filter. */
export function AnyOf({ label, name, value, options, onChange }: { label: string; name: string; value: string; options: readonly (string | [string, string])[]; onChange: (v: string) => void }) {
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {options.map((o) => {
          const [v, text] = typeof o === 'string' ? [o, o] : o;
          return <option value={v}>{text}</option>;
        })}
      </select>
    </label>
  );
}

/** A row of tabs: the `shown` one selected. */
export function Tabs<T extends string>({ tabs, shown, onPick }: { tabs: readonly T[]; shown: T; onPick: (t: T) => void }) {
  return (
    <div class="tabs" role="tablist">
      {tabs.map((t) => (
        <button type="button" role="tab" aria-selected={shown === t} class={shown === t ? 'tab active' : 'tab'} onClick={() => onPick(t)}>
          {t}
        </button>
      ))}
    </div>
  );
}

/** A mail's headers, one row each, as a mail client's "show original" lists them. */
export function HeaderTable({ rows }: { rows: [string, string][] }) {
  return (
    <table class="table compact headers">
      <tbody>
        {rows.map(([k, v]) => (
          <tr>
            <th>{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A column of a ListTable: its heading, its cell for a row, and a class for both (`num`, `wide`, `ellipsis`, `nowrap`). */
export interface Column<T> {
  head: ComponentChildren;
  cell: (row: T) => ComponentChildren;
  class?: string;
}

/**
 * The list pages' table (campaigns, messages, launches, templates, resources, databases, webhooks,
 * tokens): a heading row and a row per item; `empty` in its place when there are none.
 */
export function ListTable<T>({ rows, columns, empty, id, rowKey }: { rows: T[]; columns: Column<T>[]; empty?: ComponentChildren; id?: string; rowKey?: (row: T) => string | number }) {
  if (rows.length === 0 && empty !== undefined) return <p class="muted">{empty}</p>;
  return (
    <table class="table" id={id}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th class={c.class}>{c.head}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={rowKey ? rowKey(row) : i}>
            {columns.map((c) => (
              <td class={c.class}>{c.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
