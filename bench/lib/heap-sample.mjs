/**
 * Preloaded into a server (`node --import bench/lib/heap-sample.mjs ...`) by bench/accept-allocation.ts:
 * on the first SIGUSR2 it starts V8's sampling heap profiler, keeping the samples of objects that
 * garbage collection has freed too (what a request allocates and drops is what makes the collector
 * run); on the second it writes the profile to HEAP_OUT. `HEAP_OUT.started` says sampling is on.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
let sampling = false;
process.on('SIGUSR2', async () => {
  if (!sampling) {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    sampling = true;
    writeFileSync(`${process.env.HEAP_OUT}.started`, '1');
  } else {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(process.env.HEAP_OUT, JSON.stringify(profile));
  }
});
