/**
 * Measuring aid (not a benchmark): how long the event loop is held while a trigger's 9 MB attachment
 * (12 MB of base64, a flat string as JSON.parse leaves it) is checked, decoded and hashed, three ways:
 * - one call: the rule and Buffer.from on the whole text at once (the code before issue 24's fix; the baseline);
 * - a worker thread: the text posted to a thread that checks, decodes and hashes it, the bytes transferred back;
 * - steps: core/attachments.ts as Salvo runs it (engine/in-turns.ts), the event loop free between steps.
 * A setImmediate ticker runs beside each; its longest gap is how long /health would have waited.
 * Prints, per way, the median over the rounds of that longest gap and of the wall time, and the ratio
 * of the longest gap to one call's.
 * Run: node --import tsx bench/attachment-decode.ts [rounds]
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { decodeAttachments } from '../src/core/attachments.ts';
import { inTurns } from '../src/engine/in-turns.ts';
import { watchTurns } from '../test/timing.ts';

const rounds = Number(process.argv[2] ?? 7);
const file = Buffer.alloc(9 * 1024 * 1024);
for (let i = 0; i < file.length; i++) file[i] = (i * 7919 + 13) % 256;
const text: string = JSON.parse(JSON.stringify(file.toString('base64')));
const dataUrl: string = JSON.parse(JSON.stringify(`data:application/octet-stream;base64,${text}`));
const sha = createHash('sha256').update(file).digest('hex');

function oneCall(): { data: Buffer; sha256: string } {
  const payload = text.replace(/\s+/g, '');
  if (payload.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new Error('not base64');
  const data = Buffer.from(payload, 'base64');
  return { data, sha256: createHash('sha256').update(data).digest('hex') };
}

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   const { createHash } = require('node:crypto');
   parentPort.on('message', (text) => {
     const payload = text.replace(/\\s+/g, '');
     const valid = payload.length % 4 !== 1 && /^[A-Za-z0-9+/]*={0,2}$/.test(payload);
     const data = valid ? Buffer.from(payload, 'base64') : null;
     const bytes = data && data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
     parentPort.postMessage({ bytes, sha256: data && createHash('sha256').update(data).digest('hex') }, bytes ? [bytes] : []);
   });`,
  { eval: true },
);
const inThread = () =>
  new Promise<{ data: Buffer; sha256: string }>((resolve) => {
    worker.once('message', (m: { bytes: ArrayBuffer; sha256: string }) => resolve({ data: Buffer.from(m.bytes), sha256: m.sha256 }));
    worker.postMessage(text);
  });

async function inSteps(): Promise<{ data: Buffer; sha256: string }> {
  const [a] = await inTurns(decodeAttachments([{ data: dataUrl, name: 'big.bin' }], 10 * 1024 * 1024));
  return { data: a.data, sha256: a.sha256! };
}

/** The longest gap between two turns of the event loop while `work` runs, and its wall time. */
async function measure(work: () => { data: Buffer; sha256: string } | Promise<{ data: Buffer; sha256: string }>) {
  await new Promise((r) => setImmediate(r));
  const watch = watchTurns();
  await new Promise((r) => setImmediate(r));
  const t = performance.now();
  const r = await work();
  const wall = performance.now() - t;
  const { longestMs } = watch.stop();
  await new Promise((r) => setImmediate(r));
  if (!r.data.equals(file) || r.sha256 !== sha) throw new Error('wrong bytes');
  return { longest: longestMs, wall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ways = { 'one call': oneCall, 'worker thread': inThread, steps: inSteps } as const;
const results = Object.fromEntries(Object.keys(ways).map((k) => [k, { longest: [] as number[], wall: [] as number[] }]));
await measure(inThread); // the thread's first message compiles its code: not counted
for (let i = 0; i < rounds; i++) {
  for (const [name, work] of Object.entries(ways)) {
    const m = await measure(work);
    results[name].longest.push(m.longest);
    results[name].wall.push(m.wall);
  }
}
await worker.terminate();
const base = median(results['one call'].longest);
for (const [name, r] of Object.entries(results)) {
  const longest = median(r.longest);
  console.log(`${name.padEnd(14)} longest event-loop wait ${longest.toFixed(1)} ms (${(longest / base).toFixed(2)} x one call), wall ${median(r.wall).toFixed(1)} ms  [longest per round: ${r.longest.map((x) => x.toFixed(0)).join(' ')}]`);
}
