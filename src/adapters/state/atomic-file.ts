import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Writes `data` to `path` so that a reader (or a process restarted after a crash) sees either the old file or the new
 * one, never a torn mix: temp file in the same directory, fsync, rename over the target, fsync the directory so the
 * rename itself survives a power loss. Mode 0600: run state is the operator's business only.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** A file's text, or undefined when it does not exist (any other read error is thrown). */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Appends one line and flushes it to disk before resolving, so an audit line is never lost to a later crash. */
export async function appendLineDurable(path: string, line: string): Promise<void> {
  const fh = await open(path, 'a', 0o600);
  try {
    await fh.appendFile(`${line}\n`, 'utf8');
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Some file systems refuse fsync on a directory handle; the rename is still atomic there, only less durable.
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    /* best effort, see above */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Serialises async work per key: each task starts after the previous one for the same key settled, so snapshot
 * writes for one run land in the order they were issued even when callers do not await them.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task of `key`; resolves or rejects with the task's own result. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves when every task queued so far has settled. */
  async drain(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
