import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTargetLock } from '../../../../src/adapters/state/file-lock.js';
import { FileRunStore } from '../../../../src/adapters/state/file-run-store.js';
import { openStateBackend } from '../../../../src/adapters/state/index.js';
import { parseConfig } from '../../../../src/config/load.js';

describe('openStateBackend', () => {
  it('opens the file store and lock under state.dir, and names that directory as the location', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certrotate-backend-'));
    const config = parseConfig('tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47\nstate: { dir: st }\n', 'c.yaml', dir);
    const backend = openStateBackend(config);
    expect(backend.location).toBe(join(dir, 'st'));
    expect(backend.store).toBeInstanceOf(FileRunStore);
    expect(backend.lock).toBeInstanceOf(FileTargetLock);
    // The store and the lock open the same directory that a second opening (another command) sees.
    await backend.store.appendJournal({ time: 't', runId: 'r', target: 'x', step: 'run', event: 'started' });
    expect(await new FileRunStore(join(dir, 'st')).readJournal('r')).toHaveLength(1);
    await backend.lock.acquire('x', 'r');
    expect((await openStateBackend(config).lock.holder('x'))?.runId).toBe('r');
  });
});
