/** Renders a parsed template against a profile, the request's content and the chosen subscription. */
import type { Expr, Node } from './ast.ts';
import { compileJsonPath, evaluateJsonPath } from './jsonpath.ts';

/**
 * Bounds on one render. Without them nested loops over 2,000 items blocked the process 1.2 s and a
 * `..a..a..a` jsonpath over deep content ran a thread out of memory.
 * - `outputChars`: characters one rendered field may produce (1 MB: templates themselves are at most
 *   1,000,000 characters).
 * - `steps`: work for the whole message, all fields together: a node rendered, a loop iteration, a
 *   jsonpath node visited or result collected, an element compared by `contains`/`in` each cost one.
 *   Measured on the 2-core build machine (Node 20) while other test suites kept it at load 5-7: the
 *   costliest 50,000 steps (nested loops printing HTML-escaped values, the `$..a..a..a` jsonpath bomb,
 *   recursive descent over a 30-deep DAG) took 3-15 ms at best of 9 warm runs, 7-40 ms median, and
 *   up to ~45 ms cold (first run); producing the full 1 MB of escaped output takes 6-11 ms warm.
 *   test/core/render-limits.test.ts prints its own figures as diagnostics.
 */
export const RENDER_LIMITS = { outputChars: 1_048_576, steps: 50_000 };
export type RenderLimits = typeof RENDER_LIMITS;

/** A render went past RENDER_LIMITS; its message is the reason a failed message shows. */
export class RenderLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderLimitError';
  }
}

/** The steps left for one message, shared by all its fields. */
export class RenderBudget {
  private left: number;
  constructor(readonly limits: RenderLimits = RENDER_LIMITS) {
    this.left = limits.steps;
  }
  spend(units: number): void {
    this.left -= units;
    if (this.left < 0) throw new RenderLimitError(`template takes more than ${this.limits.steps} steps (loops, jsonpath and comparisons)`);
  }
}

export interface RenderContext {
  /** The profile document (core/profile.ts profileDocument), after any per-message field overrides. */
  lead: Record<string, unknown>;
  /** The request's `content`. */
  apicontent: unknown;
  /** The subscription the message goes to, as the API shows it. */
  subscription: Record<string, unknown> | null;
  /** All the profile's subscriptions, best first, for subscription_field(). */
  subscriptions: Record<string, unknown>[];
  /** `{unsubscribe}`: the message's signed unsubscribe URL (Altcraft's variable); empty where there is none. */
  unsubscribe?: string;
}

type Scope = Map<string, unknown>;

const own = (o: object, k: string) => Object.hasOwn(o, k);

const ESCAPES: (string | undefined)[] = [];
ESCAPES[38] = '&amp;';
ESCAPES[60] = '&lt;';
ESCAPES[62] = '&gt;';
ESCAPES[34] = '&quot;';
ESCAPES[39] = '&#39;';

/** One pass, no callback per match: loops printing many small values spend most of their time here. */
function escapeHtml(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const rep = c <= 62 ? ESCAPES[c] : undefined;
    if (rep === undefined) continue;
    out += s.slice(last, i) + rep;
    last = i + 1;
  }
  return last === 0 ? s : out + s.slice(last);
}

/** How a value prints: lists (tags) as "a, b", objects as JSON, nothing as the empty string. */
function printValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((x) => (x !== null && typeof x === 'object' ? JSON.stringify(x) : printValue(x))).join(', ');
  return JSON.stringify(v);
}

/** False are: nothing, "", false, 0, an empty list, an empty object. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') {
    // Listing a huge object's keys costs in proportion to it (for...in as much as Object.keys), and a
    // loop may test the same object each turn: content does not change during a render, so remember.
    let known = nonEmpty.get(v);
    if (known === undefined) {
      known = Object.keys(v).length > 0;
      nonEmpty.set(v, known);
    }
    return known;
  }
  return true;
}
const nonEmpty = new WeakMap<object, boolean>();

/**
 * A value's printed form, charged to the budget by its size, so a loop that compares a 300 KB value
 * each turn runs out of steps, not minutes. Measured: comparing or searching a string runs at about
 * 256 characters a step, turning an object into JSON at about 32.
 */
function printCharged(v: unknown, budget: RenderBudget): string {
  const s = printValue(v);
  const perStep = v !== null && typeof v === 'object' ? 32 : 256;
  if (s.length > perStep) budget.spend(Math.ceil(s.length / perStep));
  return s;
}

/** `equal` compares numbers as numbers and everything else by its printed form ("30" equal 30). */
function looseEqual(a: unknown, b: unknown, budget = new RenderBudget()): boolean {
  const na = toNumber(a);
  const nb = toNumber(b);
  if (na !== null && nb !== null) return na === nb;
  return printCharged(a, budget) === printCharged(b, budget);
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return null;
}

function contains(container: unknown, item: unknown, budget: RenderBudget): boolean {
  if (Array.isArray(container)) {
    budget.spend(container.length);
    if (container.length === 0) return false;
    // The item is printed once, not once per element.
    const wanted = toNumber(item) ?? printCharged(item, budget);
    return container.some((x) => (typeof wanted === 'number' && toNumber(x) !== null ? toNumber(x) === wanted : printCharged(x, budget) === String(wanted)));
  }
  if (typeof container === 'string') {
    budget.spend(Math.ceil(container.length / 256));
    return container.includes(printCharged(item, budget));
  }
  if (container !== null && typeof container === 'object') return own(container, printCharged(item, budget));
  return false;
}

/** A variable's value, as a render reads it (template/warnings.ts checks templates by the same rule). */
export function lookup(ctx: RenderContext, scope: Scope, root: string, path: string[]): unknown {
  let v: unknown = scope.has(root) ? scope.get(root) : root === 'lead' ? ctx.lead : root === 'apicontent' ? ctx.apicontent : root === 'subscription' ? ctx.subscription : root === 'unsubscribe' ? (ctx.unsubscribe ?? '') : undefined;
  for (const seg of path) {
    if (Array.isArray(v) && /^\d+$/.test(seg)) v = v[Number(seg)];
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && own(v, seg)) v = (v as Record<string, unknown>)[seg];
    else return undefined;
  }
  return v;
}

const jsonPathCache = new Map<string, ReturnType<typeof compileJsonPath>>();

function evaluate(e: Expr, ctx: RenderContext, scope: Scope, budget: RenderBudget): unknown {
  switch (e.t) {
    case 'str':
    case 'num':
    case 'bool':
      return e.v;
    case 'path':
      return lookup(ctx, scope, e.root, e.path);
    case 'not':
      return !truthy(evaluate(e.e, ctx, scope, budget));
    case 'bin': {
      const l = evaluate(e.l, ctx, scope, budget);
      if (e.op === 'and') return truthy(l) && truthy(evaluate(e.r, ctx, scope, budget));
      if (e.op === 'or') return truthy(l) || truthy(evaluate(e.r, ctx, scope, budget));
      const r = evaluate(e.r, ctx, scope, budget);
      if (e.op === 'equal') return looseEqual(l, r, budget);
      if (e.op === 'contains') return contains(l, r, budget);
      return contains(r, l, budget);
    }
    case 'call': {
      const args = e.args.map((a) => evaluate(a, ctx, scope, budget));
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
      const found = evaluateJsonPath(steps, source, (n) => budget.spend(n));
      return mode === 'array' ? found : found[0];
    }
  }
}

/** The rendered text so far, bounded by RENDER_LIMITS.outputChars. */
class Output {
  readonly parts: string[] = [];
  private chars = 0;
  constructor(private readonly max: number) {}
  push(s: string): void {
    this.chars += s.length;
    if (this.chars > this.max) throw new RenderLimitError(`template output exceeds ${formatSize(this.max)}`);
    this.parts.push(s);
  }
}

const formatSize = (chars: number) => (chars % 1_048_576 === 0 ? `${chars / 1_048_576} MB (${chars} characters)` : `${chars} characters`);

function renderNodes(nodes: Node[], ctx: RenderContext, scope: Scope, html: boolean, out: Output, budget: RenderBudget): void {
  for (const n of nodes) {
    budget.spend(1);
    if (n.t === 'text') out.push(n.v);
    else if (n.t === 'out') {
      const s = printValue(evaluate(n.e, ctx, scope, budget));
      if (!html) out.push(s);
      // Escaping grows text up to 6×: escape a piece at a time so an oversized value stops early.
      else for (let at = 0; at < s.length; at += 65_536) out.push(escapeHtml(s.slice(at, at + 65_536)));
    } else if (n.t === 'if') {
      renderNodes(truthy(evaluate(n.cond, ctx, scope, budget)) ? n.then : n.else, ctx, scope, html, out, budget);
    } else {
      const source = evaluate(n.source, ctx, scope, budget);
      const iteration = (k: unknown, v: unknown) => {
        budget.spend(1 + scope.size); // the scope is copied for each iteration
        const inner = new Map(scope);
        if (n.key) inner.set(n.key, k);
        inner.set(n.value, v);
        renderNodes(n.body, ctx, inner, html, out, budget);
      };
      if (Array.isArray(source)) {
        source.forEach((v, i) => {
          iteration(i, v);
        });
      }
      else if (source !== null && typeof source === 'object') for (const k in source) if (own(source, k)) iteration(k, (source as Record<string, unknown>)[k]);
    }
  }
}

export interface RenderOptions {
  /** Escape every printed value for an HTML body; subjects, text, SMS and push are not escaped. */
  html?: boolean;
  /** The limits of this render; ignored when `budget` is given (the budget carries its own). */
  limits?: RenderLimits;
  /** Steps shared with the other fields of the same message. */
  budget?: RenderBudget;
}

/** Throws RenderLimitError when the output or the steps go past their limits. */
export function renderTemplate(nodes: Node[], ctx: RenderContext, { html = false, limits = RENDER_LIMITS, budget = new RenderBudget(limits) }: RenderOptions = {}): string {
  const out = new Output(budget.limits.outputChars);
  renderNodes(nodes, ctx, new Map(), html, out, budget);
  return out.parts.join('');
}
