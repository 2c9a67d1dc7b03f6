/** The file state backend (`state.kind: file`) against the RunStore and TargetLock conformance suites. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTargetLock } from '../../src/adapters/state/file-lock.js';
import { FileRunStore } from '../../src/adapters/state/file-run-store.js';
import { describeTargetLockConformance } from './lock.js';
import { describeRunStoreConformance } from './run-store.js';

describeRunStoreConformance('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certrotate-conf-store-'));
  return {
    store: new FileRunStore(dir),
    reopen: () => new FileRunStore(dir),
    async writeRawSnapshot(runId, text) {
      await mkdir(join(dir, 'runs', runId), { recursive: true });
      await writeFile(join(dir, 'runs', runId, 'snapshot.json'), text);
    },
  };
});

describeTargetLockConformance('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certrotate-conf-lock-'));
  return { open: (p) => new FileTargetLock(dir, p) };
});
