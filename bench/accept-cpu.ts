/**
 * Measuring aid (not a benchmark): the CPU one accepted `campaigns/triggers/start` costs in-process
 * (app.inject: routing, token, validation, the launch's writes, serialization), in µs, the median of 5
 * rounds of 1000. CPU time is far less sensitive than req/s to other load on the machine, so two trees
 * (before and after a change) compare fairly when run alternately: node --import tsx bench/accept-cpu.ts
 */
import { setupShop } from '../test/fixture.ts';
import { startServer, TEST_TOKEN } from '../test/helpers.ts';

const s = await startServer();
const shop = await setupShop(s);
const start = (n: number) =>
  s.app.http.inject({
    method: 'POST',
    url: '/api/v1.1/campaigns/triggers/start',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ token: TEST_TOKEN, id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'T', n } }),
  });
for (let i = 0; i < 300; i++) await start(i);
const rounds: number[] = [];
for (let r = 0; r < 5; r++) {
  const before = process.cpuUsage();
  for (let i = 0; i < 1000; i++) {
    const res = await start(i);
    if (res.statusCode !== 200) throw new Error(res.body);
  }
  const used = process.cpuUsage(before);
  rounds.push((used.user + used.system) / 1000);
}
rounds.sort((a, b) => a - b);
console.log(`CPU per accepted start: median ${rounds[2].toFixed(0)} µs (min ${rounds[0].toFixed(0)}, max ${rounds[4].toFixed(0)})`);
await s.close();
