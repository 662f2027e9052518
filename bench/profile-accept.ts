/**
 * Profiling aid (not a benchmark): scenario A's load against one `salvo serve`, printing its throughput.
 * Run: node --import tsx bench/profile-accept.ts; NODEARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" writes a CPU profile of the server.
 */
import { createWorld } from './lib/world.ts';
import { startSalvo } from './lib/server.ts';
import { startSink } from './lib/sink.ts';
import { load, TOKEN } from './lib/load.ts';
const w = await createWorld('sqlite', 20000, null);
const sink = await startSink();
const s = await startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN, ...JSON.parse(process.env.EXTRA ?? '{}') }, (process.env.NODEARGS ?? '').split(' ').filter(Boolean));
s.proc.stderr!.on('data', (c) => process.stderr.write(c));
const body = (n: number) => JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'A', n } });
const r = await load(s.url + '/api/v1.1/campaigns/triggers/start', { connections: 50, seconds: 6, body });
console.log('rps', r.rps.toFixed(0), 'p99', r.p99, 'sink', sink.count);
await s.stop(); await sink.close();
