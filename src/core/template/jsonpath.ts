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

const own = (o: object, k: string) => Object.hasOwn(o, k);

/** Charged one unit per node visited and per result collected; throws to stop a runaway path. */
export type Spend = (units: number) => void;

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v !== null && typeof v === 'object') return Object.values(v);
  return [];
}

/** Every `key` under `v`, in document order; iterative, so deeply nested content cannot overflow the stack. */
function descend(v: unknown, key: string, out: unknown[], spend: Spend): void {
  const stack: unknown[] = [v];
  while (stack.length) {
    const node = stack.pop();
    spend(1);
    if (node !== null && typeof node === 'object' && !Array.isArray(node) && own(node, key)) {
      spend(1);
      out.push((node as Record<string, unknown>)[key]);
    }
    const kids = children(node);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
}

/**
 * The values `steps` reach from `root`. `..a..a..a` over content nested 30 deep collects
 * combinatorially many results, so the caller's `spend` bounds the work (and the memory).
 */
export function evaluateJsonPath(steps: Step[], root: unknown, spend: Spend = () => {}): unknown[] {
  let current: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    const add = (x: unknown) => {
      spend(1);
      next.push(x);
    };
    for (const v of current) {
      spend(1);
      if (step.k === 'all') for (const c of children(v)) add(c);
      else if (step.k === 'deep') descend(v, step.v, next, spend);
      else if (step.k === 'index') {
        if (Array.isArray(v)) {
          const i = step.v < 0 ? v.length + step.v : step.v;
          if (i >= 0 && i < v.length) add(v[i]);
        }
      } else if (v !== null && typeof v === 'object' && !Array.isArray(v) && own(v, step.v)) {
        add((v as Record<string, unknown>)[step.v]);
      }
    }
    current = next;
  }
  return current;
}
