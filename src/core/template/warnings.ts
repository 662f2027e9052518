/**
 * Warnings for variables that resolve to nothing: `{apicontent.ordr}` when the content has `order`. An
 * unknown variable prints nothing and is no error (docs/templates.md), so a typo goes out silently;
 * these say so where a user can still fix it: templates/add|update (a `lead.` field no database has, a
 * `subscription.` field there is none of) and a dry run (every variable, with the content and profile
 * given). A variable tested by an enclosing `{if}` is taken as meant to be optional and not reported.
 */
import type { Expr, Node } from './ast.ts';
import { lookup, type RenderContext } from './render.ts';

type PathExpr = Extract<Expr, { t: 'path' }>;

/** Whether a variable resolves: true, or the keys there are where it stops (for the hint). */
type Resolver = (root: string, path: string[]) => true | string[];

function pathsOf(e: Expr, out: PathExpr[] = []): PathExpr[] {
  if (e.t === 'path') out.push(e);
  else if (e.t === 'not') pathsOf(e.e, out);
  else if (e.t === 'bin') {
    pathsOf(e.l, out);
    pathsOf(e.r, out);
  } else if (e.t === 'call') for (const a of e.args) pathsOf(a, out);
  return out;
}

const nameOf = (p: PathExpr) => [p.root, ...p.path].join('.');

function walk(nodes: Node[], resolve: Resolver, field: string, loopVars: Set<string>, guarded: Set<string>, out: string[]): void {
  const check = (e: Expr) => {
    for (const p of pathsOf(e)) {
      if (loopVars.has(p.root) || p.root === 'unsubscribe' || guarded.has(nameOf(p))) continue;
      const found = resolve(p.root, p.path);
      if (found === true) continue;
      const hint = found.length ? ` (there: ${found.slice(0, 12).join(', ')}${found.length > 12 ? ', ...' : ''})` : '';
      const text = `${field}: {${nameOf(p)}} at line ${p.pos.line}, column ${p.pos.column} resolves to nothing${hint}`;
      if (!out.includes(text)) out.push(text);
    }
  };
  for (const n of nodes) {
    if (n.t === 'out') check(n.e);
    else if (n.t === 'if') {
      const inner = new Set(guarded);
      for (const p of pathsOf(n.cond)) inner.add(nameOf(p));
      walk(n.then, resolve, field, loopVars, inner, out);
      walk(n.else, resolve, field, loopVars, inner, out);
    } else if (n.t === 'for') {
      check(n.source);
      const inner = new Set(loopVars);
      if (n.key) inner.add(n.key);
      inner.add(n.value);
      walk(n.body, resolve, field, inner, guarded, out);
    }
  }
}

/** The keys of the deepest object a path reaches before it stops, for the hint. */
function keysWhereItStops(ctx: RenderContext, root: string, path: string[]): string[] {
  for (let i = path.length - 1; i >= 0; i--) {
    const v = lookup(ctx, new Map(), root, path.slice(0, i));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.keys(v);
    if (v !== undefined) return [];
  }
  return [];
}

/**
 * A dry run's warnings for one template field rendered with `ctx`. A `{lead.X}` the database declares is
 * not reported when this profile has no value: that is the profile's data, not the template's mistake.
 */
export function unresolvedInContext(nodes: Node[], ctx: RenderContext, leadFields: ReadonlySet<string>, field: string): string[] {
  const out: string[] = [];
  const resolve: Resolver = (root, path) => {
    if (root === 'lead' && path.length > 0 && leadFields.has(path[0])) return true;
    return lookup(ctx, new Map(), root, path) !== undefined ? true : keysWhereItStops(ctx, root, path);
  };
  walk(nodes, resolve, field, new Set(), new Set(), out);
  return out;
}

/** The fields a subscription shows a template (core/message.ts subscriptionView). */
const SUBSCRIPTION_FIELDS = ['id', 'resource_id', 'channel', 'email', 'phone', 'provider', 'subscription_id', 'keys', 'cc_data', 'status', 'priority', 'custom_fields', 'cats'];

/**
 * templates/add|update's warnings for one field: `{lead.X}` where no database has a field X (nor the
 * system fields), `{subscription.X}` that is no subscription field. Content is not known until a launch.
 */
export function unknownFieldsOf(nodes: Node[], leadFields: ReadonlySet<string>, field: string): string[] {
  const out: string[] = [];
  const resolve: Resolver = (root, path) => {
    if (path.length === 0) return true;
    if (root === 'lead') return leadFields.has(path[0]) ? true : [];
    if (root === 'subscription') return SUBSCRIPTION_FIELDS.includes(path[0]) ? true : SUBSCRIPTION_FIELDS;
    return true;
  };
  walk(nodes, resolve, field, new Set(), new Set(), out);
  return out;
}
