/** The in-memory run store and lock (tests, benchmarks) against the RunStore and TargetLock conformance suites. */
import type { LockHolder } from '../../src/adapters/ports.js';
import { MemoryTargetLock } from '../../src/adapters/state/memory-lock.js';
import { MemoryRunStore } from '../../src/adapters/state/memory-run-store.js';
import { describeTargetLockConformance } from './lock.js';
import { describeRunStoreConformance } from './run-store.js';

describeRunStoreConformance('memory', async () => {
  const objects = new Map<string, string>();
  return {
    store: new MemoryRunStore(objects),
    reopen: () => new MemoryRunStore(objects),
    async writeRawSnapshot(runId, text) {
      objects.set(MemoryRunStore.objectName(runId, 'snapshot.json'), text);
    },
  };
});

describeTargetLockConformance('memory', async () => {
  const holders = new Map<string, LockHolder>();
  return { open: (p) => new MemoryTargetLock(holders, p) };
});
