/**
 * Where the event loop is held in one piece: reads a `.cpuprofile` (node --cpu-prof) and prints each
 * stretch of consecutive busy samples longer than a threshold, with the functions that took its time.
 * A stretch is what a /health request that arrives during it waits for.
 *
 *   node --import tsx bench/long-turns.ts <file.cpuprofile> [minMs=20] [fromMs=0: leave out what starts earlier, e.g. start-up]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

const [file, minArg, fromArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: bench/long-turns.ts <file.cpuprofile> [minMs]');
  process.exit(2);
}
const minMs = Number(minArg ?? 20);
const fromMs = Number(fromArg ?? 0);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const name = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
/** The innermost frame of the sample's stack that is our own code (src/), for a "who asked for it" column. */
function ownFrame(id: number): string {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at)!;
    if (n.callFrame.url.includes('/src/') || n.callFrame.url.includes('/dist/')) return name(n);
  }
  return '(no own frame)';
}

interface Stretch {
  start: number;
  end: number;
  self: Map<string, number>;
  own: Map<string, number>;
}
let t = profile.startTime;
let stretch = null as Stretch | null;
const stretches: Stretch[] = [];
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  const node = byId.get(profile.samples[i])!;
  const idle = node.callFrame.functionName === '(idle)';
  if (idle) {
    if (stretch) stretches.push(stretch);
    stretch = null;
    continue;
  }
  stretch ??= { start: t, end: t, self: new Map(), own: new Map() };
  const next = profile.timeDeltas[i + 1] ?? 0;
  stretch.end = t + next;
  stretch.self.set(name(node), (stretch.self.get(name(node)) ?? 0) + next);
  const own = ownFrame(node.id);
  stretch.own.set(own, (stretch.own.get(own) ?? 0) + next);
}
if (stretch) stretches.push(stretch);

const top = (m: Map<string, number>, k: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([f, us]) => `      ${(us / 1000).toFixed(1).padStart(7)} ms  ${f}`)
    .join('\n');
const long = stretches.filter((s) => (s.end - s.start) / 1000 >= minMs && (s.start - profile.startTime) / 1000 >= fromMs).sort((a, b) => b.end - b.start - (a.end - a.start));
console.log(`${stretches.length} busy stretches; ${long.length} of ${minMs} ms or more`);
for (const s of long.slice(0, 10)) {
  console.log(`\n${((s.end - s.start) / 1000).toFixed(1)} ms at +${((s.start - profile.startTime) / 1000).toFixed(0)} ms`);
  console.log('   self time:');
  console.log(top(s.self, 6));
  console.log('   under our own frame:');
  console.log(top(s.own, 6));
}
