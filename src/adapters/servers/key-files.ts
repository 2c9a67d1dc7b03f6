/**
 * Per-run temp directories for private keys that must touch the disk outside a `file` target's own key store (the
 * `command` target's `pemFile`). Each lives under one known root, `<os tmpdir>/certrotate-keys-<uid>` (mode 0700),
 * is named `<runId>.<pid>.<random>` (mode 0700, files 0600) and is removed when its step ends. A process killed
 * with `kill -9` cannot remove its own, so {@link sweepStaleKeyFiles} removes every directory whose owning process
 * is gone; commands that start or continue runs call it first (DESIGN I4: no key outlives its step).
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** Options of the key directory functions. */
export interface KeyFilesOptions {
  /** The root the directories live under (default {@link defaultKeyFilesRoot}). Tests pass their own. */
  root?: string;
}

/** `<os tmpdir>/certrotate-keys-<uid>`: one root per user, so another user's certrotate never shares it. */
export function defaultKeyFilesRoot(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `certrotate-keys-${uid}`);
}

/** A run id as it appears in a directory name: letters, digits, `-` and `_` only. */
function nameSafe(runId: string | undefined): string {
  const safe = (runId ?? '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  return safe || 'no-run';
}

/** The owner a key directory's name records. */
export interface KeyDirectoryOwner {
  runId: string;
  pid: number;
}

/** Reads `<runId>.<pid>.<random>`; undefined for a name certrotate did not make. */
export function ownerOfKeyDirectory(name: string): KeyDirectoryOwner | undefined {
  const m = /^([A-Za-z0-9_-]+)\.(\d+)\.[0-9a-f]{12}$/.exec(name);
  return m ? { runId: m[1]!, pid: Number(m[2]) } : undefined;
}

/**
 * Makes the root (0700) if needed and checks it is a directory of ours that nobody else can enter: a root another
 * user planted in a shared /tmp (or a symlink) would let them read the keys, so certrotate refuses to use it.
 */
async function ensureRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const st = await lstat(root);
  const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
  if (!st.isDirectory() || !mine || (st.mode & 0o077) !== 0) {
    throw new Error(
      `the key directory root ${root} is not a private directory of this user (want a directory, mode 0700, owned by uid ${process.getuid?.()})`,
    );
  }
}

/** One run's key directory. */
export interface RunKeyDirectory {
  readonly path: string;
  /** Writes `content` to `<path>/<name>` (mode 0600, never over an existing file) and returns the file's path. */
  write(name: string, content: string): Promise<string>;
  /** Removes the directory and everything in it. Idempotent. */
  remove(): Promise<void>;
}

/** Creates a fresh key directory for `runId`, owned by this process (mode 0700). */
export async function createRunKeyDirectory(
  runId: string | undefined,
  opts: KeyFilesOptions = {},
): Promise<RunKeyDirectory> {
  const root = opts.root ?? defaultKeyFilesRoot();
  await ensureRoot(root);
  const path = join(root, `${nameSafe(runId)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  // `mkdir` without `recursive` fails if the name exists, so the directory is ours alone from its first moment.
  await mkdir(path, { mode: 0o700 });
  // A process that dies between here and `remove` leaves the directory to the sweep; this covers a normal exit
  // (process.exit in the middle of a step) synchronously, which is all an `exit` listener may do.
  const onExit = () => rmSync(path, { recursive: true, force: true });
  process.once('exit', onExit);
  return {
    path,
    async write(name, content) {
      const file = join(path, name);
      await writeFile(file, content, { mode: 0o600, flag: 'wx' });
      return file;
    },
    async remove() {
      process.off('exit', onExit);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** True when a process with `pid` exists on this host (EPERM: it exists, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Options of {@link sweepStaleKeyFiles}. */
export interface SweepOptions extends KeyFilesOptions {
  /** Whether the owner process lives (default: a signal-0 probe on this host). */
  isAlive?: (pid: number) => boolean;
  logger?: Logger;
}

/** A directory the sweep removed. */
export interface SweptKeyDirectory extends KeyDirectoryOwner {
  path: string;
}

/**
 * Removes the key directories left by processes that are gone (killed, crashed, powered off), and keeps those of
 * live processes, whose steps are still using them. Safe to run at any time and from several processes at once:
 * it removes only what no living process owns, and removing twice is a no-op. Returns what it removed.
 */
export async function sweepStaleKeyFiles(opts: SweepOptions = {}): Promise<SweptKeyDirectory[]> {
  const root = opts.root ?? defaultKeyFilesRoot();
  const isAlive = opts.isAlive ?? processAlive;
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const swept: SweptKeyDirectory[] = [];
  for (const name of names) {
    const owner = ownerOfKeyDirectory(name);
    if (!owner || owner.pid === process.pid || isAlive(owner.pid)) continue;
    const path = join(root, name);
    await rm(path, { recursive: true, force: true });
    swept.push({ ...owner, path });
    opts.logger?.info({ runId: owner.runId, pid: owner.pid }, 'removed the key directory of a process that is gone');
  }
  return swept;
}
