/**
 * Forms that write through the API: each field has a visible label, and a 400's text that names a field
 * (`field 'name' is required`, `channels[0].fields needs html or text`) is shown beside that field.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { call, type DataOf, type Method } from './api.ts';

/** Which field of the form a 400 names: `field 'x.y'` or a text starting with the field's name. */
function fieldOfError(text: string, fields: readonly string[]): string | null {
  const quoted = /field '([^']+)'/.exec(text)?.[1] ?? /^([A-Za-z_][\w]*)(?:[[. ])/.exec(text)?.[1];
  if (!quoted) return null;
  const head = quoted.split(/[[.]/)[0];
  return fields.includes(quoted) ? quoted : fields.includes(head) ? head : null;
}

export interface FormState {
  busy: boolean;
  /** Errors by field name; `''` is the form's own (not about one field). */
  errors: Record<string, string>;
  /** Calls `method` with `body`; a 400 naming a field of `fields` goes beside it. Answers the data, or undefined on failure. */
  submit<M extends Method>(method: M, body: Record<string, unknown>): Promise<DataOf<M> | undefined>;
}

export function useForm(fields: readonly string[]): FormState {
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  return {
    busy,
    errors,
    async submit<M extends Method>(method: M, body: Record<string, unknown>) {
      setBusy(true);
      setErrors({});
      try {
        return (await call(method, body)).data;
      } catch (e) {
        const text = (e as { text?: string }).text ?? (e as Error).message;
        const field = fieldOfError(text, fields);
        setErrors({ [field ?? '']: field ? text : (e as Error).message });
        return undefined;
      } finally {
        setBusy(false);
      }
    },
  };
}

const idOf = (name: string) => `f-${name.replace(/[^\w-]/g, '-')}`;

/** A labelled control with its error beside it (aria-describedby points at the error). */
function Field({ form, name, label, hint, children }: { form: FormState; name: string; label: string; hint?: string; children: (id: string, describedBy: string | undefined) => ComponentChildren }) {
  const id = idOf(name);
  const error = form.errors[name];
  return (
    <div class={`field${error ? ' has-error' : ''}`}>
      <label for={id}>{label}</label>
      {children(id, error ? `${id}-error` : undefined)}
      {hint && <span class="muted small">{hint}</span>}
      {error && (
        <span class="field-error" id={`${id}-error`} role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

export function TextInput(p: { form: FormState; name: string; label: string; value: string; onInput: (v: string) => void; hint?: string; type?: string; required?: boolean; placeholder?: string }) {
  return (
    <Field form={p.form} name={p.name} label={p.label} hint={p.hint}>
      {(id, d) => (
        <input id={id} name={p.name} type={p.type ?? 'text'} value={p.value} required={p.required} placeholder={p.placeholder} aria-describedby={d} aria-invalid={d ? 'true' : undefined} onInput={(e) => p.onInput(e.currentTarget.value)} />
      )}
    </Field>
  );
}

export function TextArea(p: { form: FormState; name: string; label: string; value: string; onInput: (v: string) => void; hint?: string; rows?: number }) {
  return (
    <Field form={p.form} name={p.name} label={p.label} hint={p.hint}>
      {(id, d) => <textarea id={id} name={p.name} rows={p.rows ?? 4} value={p.value} aria-describedby={d} onInput={(e) => p.onInput(e.currentTarget.value)} />}
    </Field>
  );
}

export function Select(p: { form: FormState; name: string; label: string; value: string; options: readonly (string | [string, string])[]; onChange: (v: string) => void; hint?: string }) {
  return (
    <Field form={p.form} name={p.name} label={p.label} hint={p.hint}>
      {(id, d) => (
        <select id={id} name={p.name} value={p.value} aria-describedby={d} onChange={(e) => p.onChange(e.currentTarget.value)}>
          {p.options.map((o) => {
            const [v, text] = typeof o === 'string' ? [o, o] : o;
            return <option value={v}>{text}</option>;
          })}
        </select>
      )}
    </Field>
  );
}

/** The form's own error (one the API did not tie to a field). */
export function FormError({ form }: { form: FormState }) {
  const e = form.errors[''];
  return e ? (
    <div class="error" role="alert">
      {e}
    </div>
  ) : null;
}

/** JSON typed into a textarea: an object, or undefined for empty; throws a readable error otherwise. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> | undefined {
  if (!text.trim()) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}
