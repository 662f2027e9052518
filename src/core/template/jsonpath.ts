/**
 * The JSONPath subset behind `{jsonpath(...)}`: `$`, `.name`, `['name']`, `[n]` (negative from the
 * end), `[*]` / `.*` and `..name` (recursive descent). Enough to reach into request content.
 */
type Step = { k: 'key'; v: string } | { k: 'index'; v: number } | { k: 'all' } | { k: 'deep'; v: string };

export function compileJsonPath(path: string): Step[] {
  if (!path.startsWith('$')) throw new Error(`a JSONPath starts with $: '${path}'`);
  const steps: Step[] = [];
  const re = /\.\.([A-Za-z0-9_-]+)|\.([A-Za-z0-9_-]+)|\.\*|\[\*\]|\[(-?\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const at = re.lastIndex;
    const m = re.exec(path);
    if (!m) throw new Error(`cannot read JSONPath '${path}' at character ${at + 1}`);
    if (m[1] !== undefined) steps.push({ k: 'deep', v: m[1] });
    else if (m[2] !== undefined) steps.push({ k: 'key', v: m[2] });
    else if (m[3] !== undefined) steps.push({ k: 'index', v: Number(m[3]) });
    else if (m[4] !== undefined || m[5] !== undefined) steps.push({ k: 'key', v: (m[4] ?? m[5])! });
    else steps.push({ k: 'all' });
  }
  return steps;
}

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v !== null && typeof v === 'object') return Object.values(v);
  return [];
}

function descend(v: unknown, key: string, out: unknown[]): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && own(v, key)) out.push((v as Record<string, unknown>)[key]);
  for (const c of children(v)) descend(c, key, out);
}

export function evaluateJsonPath(steps: Step[], root: unknown): unknown[] {
  let current: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if (step.k === 'all') next.push(...children(v));
      else if (step.k === 'deep') descend(v, step.v, next);
      else if (step.k === 'index') {
        if (Array.isArray(v)) {
          const i = step.v < 0 ? v.length + step.v : step.v;
          if (i >= 0 && i < v.length) next.push(v[i]);
        }
      } else if (v !== null && typeof v === 'object' && !Array.isArray(v) && own(v, step.v)) {
        next.push((v as Record<string, unknown>)[step.v]);
      }
    }
    current = next;
  }
  return current;
}
