/** Renders a parsed template against a profile, the request's content and the chosen subscription. */
import type { Expr, Node } from './ast.ts';
import { compileJsonPath, evaluateJsonPath } from './jsonpath.ts';

export interface RenderContext {
  /** The profile document (core/profile.ts profileDocument), after any per-message field overrides. */
  lead: Record<string, unknown>;
  /** The request's `content`. */
  apicontent: unknown;
  /** The subscription the message goes to, as the API shows it. */
  subscription: Record<string, unknown> | null;
  /** All the profile's subscriptions, best first, for subscription_field(). */
  subscriptions: Record<string, unknown>[];
}

type Scope = Map<string, unknown>;

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

/** How a value prints: lists (tags) as "a, b", objects as JSON, nothing as the empty string. */
export function printValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((x) => (x !== null && typeof x === 'object' ? JSON.stringify(x) : printValue(x))).join(', ');
  return JSON.stringify(v);
}

/** False are: nothing, "", false, 0, an empty list, an empty object. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** `equal` compares numbers as numbers and everything else by its printed form ("30" equal 30). */
export function looseEqual(a: unknown, b: unknown): boolean {
  const na = toNumber(a);
  const nb = toNumber(b);
  if (na !== null && nb !== null) return na === nb;
  return printValue(a) === printValue(b);
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return null;
}

function contains(container: unknown, item: unknown): boolean {
  if (Array.isArray(container)) return container.some((x) => looseEqual(x, item));
  if (typeof container === 'string') return container.includes(printValue(item));
  if (container !== null && typeof container === 'object') return own(container, printValue(item));
  return false;
}

function lookup(ctx: RenderContext, scope: Scope, root: string, path: string[]): unknown {
  let v: unknown = scope.has(root) ? scope.get(root) : root === 'lead' ? ctx.lead : root === 'apicontent' ? ctx.apicontent : root === 'subscription' ? ctx.subscription : undefined;
  for (const seg of path) {
    if (Array.isArray(v) && /^\d+$/.test(seg)) v = v[Number(seg)];
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && own(v, seg)) v = (v as Record<string, unknown>)[seg];
    else return undefined;
  }
  return v;
}

const jsonPathCache = new Map<string, ReturnType<typeof compileJsonPath>>();

function evaluate(e: Expr, ctx: RenderContext, scope: Scope): unknown {
  switch (e.t) {
    case 'str':
    case 'num':
    case 'bool':
      return e.v;
    case 'path':
      return lookup(ctx, scope, e.root, e.path);
    case 'not':
      return !truthy(evaluate(e.e, ctx, scope));
    case 'bin': {
      const l = evaluate(e.l, ctx, scope);
      if (e.op === 'and') return truthy(l) && truthy(evaluate(e.r, ctx, scope));
      if (e.op === 'or') return truthy(l) || truthy(evaluate(e.r, ctx, scope));
      const r = evaluate(e.r, ctx, scope);
      if (e.op === 'equal') return looseEqual(l, r);
      if (e.op === 'contains') return contains(l, r);
      return contains(r, l);
    }
    case 'call': {
      const args = e.args.map((a) => evaluate(a, ctx, scope));
      if (e.name === 'subscription_field') {
        const [channel, field] = args.map(printValue);
        const sub = ctx.subscriptions.find((s) => s.channel === channel);
        return sub && own(sub, field) ? sub[field] : undefined;
      }
      const [source, path, mode] = [args[0], printValue(args[1]), printValue(args[2] ?? 'item')];
      let steps = jsonPathCache.get(path);
      if (!steps) {
        try {
          steps = compileJsonPath(path);
        } catch {
          return undefined; // an unreadable path finds nothing, like an unknown variable
        }
        if (jsonPathCache.size < 1000) jsonPathCache.set(path, steps);
      }
      const found = evaluateJsonPath(steps, source);
      return mode === 'array' ? found : found[0];
    }
  }
}

function renderNodes(nodes: Node[], ctx: RenderContext, scope: Scope, html: boolean, out: string[]): void {
  for (const n of nodes) {
    if (n.t === 'text') out.push(n.v);
    else if (n.t === 'out') {
      const s = printValue(evaluate(n.e, ctx, scope));
      out.push(html ? escapeHtml(s) : s);
    } else if (n.t === 'if') {
      renderNodes(truthy(evaluate(n.cond, ctx, scope)) ? n.then : n.else, ctx, scope, html, out);
    } else {
      const source = evaluate(n.source, ctx, scope);
      const entries: [unknown, unknown][] = Array.isArray(source)
        ? source.map((v, i) => [i, v])
        : source !== null && typeof source === 'object'
          ? Object.entries(source)
          : [];
      for (const [k, v] of entries) {
        const inner = new Map(scope);
        if (n.key) inner.set(n.key, k);
        inner.set(n.value, v);
        renderNodes(n.body, ctx, inner, html, out);
      }
    }
  }
}

/** `html` escapes every printed value for an HTML body; subjects, text, SMS and push are not escaped. */
export function renderTemplate(nodes: Node[], ctx: RenderContext, { html = false } = {}): string {
  const out: string[] = [];
  renderNodes(nodes, ctx, new Map(), html, out);
  return out.join('');
}
