/**
 * A state directory the OS refuses to write (issue 10, 9c): the error names the directory and what to do, offers
 * `resume` when the run has a saved snapshot, and is never a raw errno dump.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileTargetLock } from '../../../../src/adapters/state/file-lock.js';
import { FileRunStore } from '../../../../src/adapters/state/file-run-store.js';
import { RunStoreError, stateWriteError } from '../../../../src/adapters/state/run-format.js';

const errno = (code: string) => Object.assign(new Error(`${code}: refused, open '/x/y'`), { code });

describe('stateWriteError', () => {
  it.each([
    ['EACCES', /write access/],
    ['EPERM', /write access/],
    ['EROFS', /read-only file system/],
    ['ENOSPC', /disk is full/],
  ])('%s names the directory, the errno and what to do', (code, advice) => {
    const err = stateWriteError(errno(code), '/srv/state') as Error;
    expect(err).toBeInstanceOf(RunStoreError);
    expect(err.message).toMatch(new RegExp(`^cannot write the state directory /srv/state \\(${code}\\): `));
    expect(err.message).toMatch(advice);
    expect(err.message).not.toContain("open '/x/y'");
  });

  it('offers resume only for a run with a saved snapshot', () => {
    const saved = stateWriteError(errno('ENOSPC'), '/s', { runId: 'r-1', recorded: true }) as Error;
    expect(saved.message).toMatch(/continue it with `certrotate resume r-1`$/);
    const unsaved = stateWriteError(errno('ENOSPC'), '/s', { runId: 'r-1', recorded: false }) as Error;
    expect(unsaved.message).toMatch(/run r-1 was not recorded/);
    expect(unsaved.message).not.toContain('certrotate resume');
  });

  it('leaves any other error as it is', () => {
    const other = errno('EIO');
    expect(stateWriteError(other, '/s')).toBe(other);
  });
});

describe('the file store and lock on a directory that cannot be made', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('say which directory and what to do, and write nothing half', async () => {
    root = await mkdtemp(join(tmpdir(), 'certrotate-state-'));
    // A file where the state directory should be: every write beneath it fails with ENOTDIR.
    await writeFile(join(root, 'state'), 'not a directory');
    const dir = join(root, 'state', 'inner');
    const store = new FileRunStore(dir);
    const saving = store.saveSnapshot({
      formatVersion: 1,
      machineVersion: 'rotation/6',
      runId: 'r-20260601-abc',
      target: 'contoso-api',
      updatedAt: new Date(0).toISOString(),
      snapshot: {},
    });
    await expect(saving).rejects.toThrow(RunStoreError);
    await expect(saving).rejects.toThrow(`cannot write the state directory ${dir} (ENOTDIR)`);
    await expect(new FileTargetLock(dir).acquire('contoso-api', 'r-20260601-abc')).rejects.toThrow(
      `cannot write the state directory ${dir} (ENOTDIR)`,
    );
    expect(await readdir(root)).toEqual(['state']);
  });
});
