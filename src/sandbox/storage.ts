/**
 * The sandbox's blob storage: Azurite (Microsoft's storage emulator, npm `azurite`) as a child process, HTTPS with
 * the sandbox's server certificate, OAuth (`--oauth basic`: Azurite checks a token's audience, issuer and lifetime,
 * not its signature — the sandbox's Entra issues Storage tokens the way Entra does, v1 with an sts.windows.net
 * issuer), telemetry off, a free port, its data under the sandbox directory. fleet-state §3.1 has the flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Azurite's one built-in account (its well-known name). */
export const EMULATOR_ACCOUNT = 'devstoreaccount1';
/** The container the sandbox creates and writes into the config it generates. */
export const SANDBOX_CONTAINER = 'certrotate';

/** Options of {@link startStorage}. */
export interface StorageOptions {
  /** Azurite's data (`--location`) and the TLS files go here. */
  dir: string;
  /** The HTTPS server certificate and key (PEM) Azurite presents; the CA that signed them must be trusted. */
  certPem: string;
  keyPem: string;
  /** A fixed port (default: a free one, `--blobPort 0`). */
  port?: number;
  /** How long to wait for Azurite to listen (default 60 s: its start-up is mostly `require`, slow on a busy host). */
  startTimeoutMs?: number;
}

/** A running (or stopped, restartable) Azurite. */
export interface SandboxStorage {
  /** The account URL clients use: `https://127.0.0.1:PORT/devstoreaccount1`. */
  accountUrl: string;
  port: number;
  /** The Azurite process id while it runs. */
  pid(): number | undefined;
  /** Stops Azurite (SIGTERM: it saves its data first). Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port over the same data (after {@link stop}: a storage outage that ends). */
  restart(): Promise<void>;
}

/** The path of Azurite's blob-only entry point (`azurite-blob`). */
function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  return join(require.resolve('azurite/package.json'), '..', 'dist', 'src', 'blob', 'main.js');
}

async function launch(
  args: string[],
  timeoutMs: number,
): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [azuriteBlobMain(), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AZURITE_ACCOUNTS: '' },
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not listen within ${timeoutMs} ms: ${err || out}`));
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /successfully listens on https?:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}) before listening: ${err || out}`));
    });
  });
  child.stdout?.resume();
  return { child, port, stderr: () => err };
}

/** Starts Azurite's blob service over HTTPS with OAuth; resolves once it listens. */
export async function startStorage(opts: StorageOptions): Promise<SandboxStorage> {
  const location = join(opts.dir, 'azurite');
  await mkdir(location, { recursive: true, mode: 0o700 });
  // Azurite reads its certificate from files. The key is the sandbox's own TLS key (it exists only in this sandbox).
  const certPath = join(location, 'tls-cert.pem');
  const keyPath = join(location, 'tls-key.pem');
  await writeFile(certPath, opts.certPem, { mode: 0o600 });
  await writeFile(keyPath, opts.keyPem, { mode: 0o600 });
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const args = (port: number) => [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--location',
    location,
    '--cert',
    certPath,
    '--key',
    keyPath,
    '--oauth',
    'basic',
    '--silent',
    '--disableTelemetry',
    // The SDK may speak a newer API version than this Azurite knows; the operations certrotate uses are old.
    '--skipApiVersionCheck',
    '--loose',
  ];
  let running: ChildProcess | undefined;
  const first = await launch(args(opts.port ?? 0), timeoutMs);
  running = first.child;
  const port = first.port;
  const stop = async () => {
    const child = running;
    running = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      child.kill('SIGTERM');
    });
  };
  return {
    accountUrl: `https://127.0.0.1:${port}/${EMULATOR_ACCOUNT}`,
    port,
    pid: () => running?.pid,
    stop,
    async restart() {
      await stop();
      running = (await launch(args(port), timeoutMs)).child;
    },
  };
}

/**
 * Creates `container` in the emulator's account unless it exists, signed with the emulator's well-known account key
 * (an administrator's act, like creating a vault: certrotate itself never creates containers). `caPem` is trusted
 * process-wide for it.
 */
export async function ensureContainer(accountUrl: string, container: string, caPem: string): Promise<void> {
  const [{ BlobServiceClient, StorageSharedKeyCredential }, { trustExtraCa }] = await Promise.all([
    import('@azure/storage-blob'),
    import('../adapters/azure/trust.js'),
  ]);
  trustExtraCa(caPem);
  const key = new StorageSharedKeyCredential(EMULATOR_ACCOUNT, EMULATOR_ACCOUNT_KEY);
  await new BlobServiceClient(accountUrl, key).getContainerClient(container).createIfNotExists();
}

/** Azurite's published account key of {@link EMULATOR_ACCOUNT} (the same in every Azurite; not a secret). */
export const EMULATOR_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
