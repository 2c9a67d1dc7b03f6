/**
 * Servers never move backwards: each server kind refuses a key older (by notBefore) than the one it holds with the
 * non-retryable `serverHasNewerKey`, naming the key in use; the same key again is a no-op, and a rollback may go
 * back only in place of the key that replaced it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterError, type KeyRef } from '../../../../src/adapters/ports.js';
import { createCommandTarget, notBeforeInOutput } from '../../../../src/adapters/servers/command.js';
import { createFileTarget, previousPathOf } from '../../../../src/adapters/servers/file.js';
import { createWebhookTarget, newerKeyInUse } from '../../../../src/adapters/servers/webhook.js';
import { notBeforeOfPem } from '../../../../src/adapters/azure/key-material.js';
import type { CertificateMaterial } from '../../../../src/sandbox/pki.js';
import { FakeClock } from '../../../fakes/clock.js';
import { MemoryKeyLoader, makeCertificate } from '../support.js';

const node = process.execPath;
let older: CertificateMaterial;
let middle: CertificateMaterial;
let newer: CertificateMaterial;
let loader: MemoryKeyLoader;
let olderKey: KeyRef;
let middleKey: KeyRef;
let newerKey: KeyRef;

beforeAll(async () => {
  [older, middle, newer] = await Promise.all([
    makeCertificate('CN=older', -30),
    makeCertificate('CN=middle', -20),
    makeCertificate('CN=newer', -10),
  ]);
  loader = new MemoryKeyLoader();
  olderKey = loader.add('https://kv.example/secrets/c/0000000000000000000000000000000a', older);
  middleKey = loader.add('https://kv.example/secrets/c/0000000000000000000000000000000b', middle);
  newerKey = loader.add('https://kv.example/secrets/c/0000000000000000000000000000000c', newer);
});

async function rejection(p: Promise<unknown>): Promise<AdapterError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AdapterError);
    return err as AdapterError;
  }
  throw new Error('expected a rejection');
}

describe('file target', () => {
  async function fileTarget() {
    const path = join(await mkdtemp(join(tmpdir(), 'cr-fence-file-')), 's2s.pem');
    return { path, target: createFileTarget('api', { kind: 'file', path }, { keyMaterial: loader }) };
  }

  it('refuses to install a key older than the one in the file, naming the key in use', async () => {
    const { path, target } = await fileTarget();
    await target.install(newerKey);
    const before = await readFile(path, 'utf8');
    const err = await rejection(target.install(middleKey));
    expect(err.detail).toMatchObject({ code: 'serverHasNewerKey', retryable: false });
    expect(err.message).toContain(newer.thumbprint);
    expect(err.message).toContain(notBeforeOfPem(newer.certPem));
    expect(await readFile(path, 'utf8')).toBe(before);
    // The same key again is a no-op; a newer one is fine.
    await target.install(newerKey);
  });

  it('rolls back to the key it replaced, but not past a key another run installed since', async () => {
    const { path, target } = await fileTarget();
    await target.install(olderKey);
    await target.install(middleKey);
    await target.restore(olderKey);
    expect(await target.currentKey()).toEqual({ thumbprint: older.thumbprint });

    await target.install(middleKey);
    // Another run moved the server on to `newer`: this run's rollback must not undo that.
    await target.install(newerKey);
    expect((await readFile(previousPathOf(path), 'utf8')).includes(middle.certPem.split('\n')[1]!)).toBe(true);
    const err = await rejection(target.restore(olderKey));
    expect(err.detail.code).toBe('serverHasNewerKey');
    expect(await target.currentKey()).toEqual({ thumbprint: newer.thumbprint });
  });
});

describe('command target', () => {
  /** A program holding one key in a state file; `current` prints its thumbprint and notBefore. */
  const PROGRAM = `
const fs = require('node:fs');
const [state, log] = process.argv.slice(1);
fs.appendFileSync(log, process.env.CERTROTATE_ACTION + ' ' + (process.env.CERTROTATE_NOT_BEFORE || '-') + '\\n');
if (process.env.CERTROTATE_ACTION === 'current') {
  if (fs.existsSync(state)) console.log(fs.readFileSync(state, 'utf8'));
} else {
  fs.writeFileSync(state, process.env.CERTROTATE_THUMBPRINT + ' notBefore=' + process.env.CERTROTATE_NOT_BEFORE);
}
`;

  async function commandTarget(pemFile: boolean) {
    const dir = await mkdtemp(join(tmpdir(), 'cr-fence-cmd-'));
    const state = join(dir, 'state');
    const log = join(dir, 'log');
    const target = createCommandTarget(
      'api',
      { kind: 'command', run: [node, '-e', PROGRAM, state, log], pemFile, timeout: 20_000 },
      { keyMaterial: loader, env: { PATH: process.env.PATH }, keyFiles: { root: join(dir, 'keys') } },
    );
    return { target, state, log };
  }

  it('reads notBefore=<ISO> from the output', () => {
    expect(notBeforeInOutput('ABC notBefore=2025-01-02T03:04:05Z\n')).toBe('2025-01-02T03:04:05.000Z');
    expect(notBeforeInOutput('notBefore=soon')).toBeUndefined();
    expect(notBeforeInOutput('')).toBeUndefined();
  });

  it('with pemFile, hands the fencing token to the program and refuses an older key than `current` reports', async () => {
    const { target, log } = await commandTarget(true);
    await target.install(newerKey, { runId: 'run-1' });
    expect(await target.currentKey()).toEqual({ thumbprint: newer.thumbprint });
    const err = await rejection(target.install(middleKey));
    expect(err.detail).toMatchObject({ code: 'serverHasNewerKey', retryable: false });
    expect(err.message).toContain(newer.thumbprint);
    expect(await target.currentKey()).toEqual({ thumbprint: newer.thumbprint });
    // The refused install never reached the program: only its `current` ran.
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.at(-2)).toBe('current -');
    expect(lines.filter((l) => l.startsWith('install'))).toEqual([`install ${notBeforeOfPem(newer.certPem)}`]);
    // A rollback goes back on purpose.
    await target.restore(middleKey);
    expect(await target.currentKey()).toEqual({ thumbprint: middle.thumbprint });
  });

  it('without pemFile, fences with the notBefore the caller gives, and passes the run id', async () => {
    const { target, state } = await commandTarget(false);
    const nb = (m: CertificateMaterial) => notBeforeOfPem(m.certPem);
    await target.install({ ...newerKey, notBefore: nb(newer) }, { runId: 'run-2' });
    const loads = loader.loads.length;
    expect(await readFile(state, 'utf8')).toBe(`${newer.thumbprint} notBefore=${nb(newer)}`);
    const err = await rejection(target.install({ ...middleKey, notBefore: nb(middle) }));
    expect(err.detail.code).toBe('serverHasNewerKey');
    // Without pemFile the private key is never read, fenced or not.
    expect(loader.loads.length).toBe(loads);
  });
});

describe('webhook target', () => {
  let server: Server;
  let base: string;
  const inUse = { thumbprint: 'F'.repeat(40), notBefore: '2025-06-01T00:00:00.000Z' };
  const requests: Record<string, unknown>[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: { status: 'installed' } };

  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (d: Buffer) => (s += d.toString()));
      req.on('end', () => resolve(s));
    });

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      if (req.method === 'POST') {
        requests.push(JSON.parse(await read(req)) as Record<string, unknown>);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ thumbprint: inUse.thumbprint }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const target = () =>
    createWebhookTarget(
      'api',
      { kind: 'webhook', url: `${base}/admin/s2s-key`, timeout: 5000 },
      { clock: new FakeClock() },
    );
  const key = {
    thumbprint: 'A'.repeat(40),
    secretId: 'https://kv.example/secrets/c/1',
    notBefore: '2025-01-01T00:00:00.000Z',
  };

  it('sends the fencing token (notBefore, runId) with the existing fields', async () => {
    answer = { status: 409, body: { error: 'newer', code: 'serverHasNewerKey', inUse } };
    requests.length = 0;
    await rejection(target().install(key, { runId: 'run-9' }));
    expect(requests).toEqual([
      { secretId: key.secretId, thumbprint: key.thumbprint, notBefore: key.notBefore, runId: 'run-9' },
    ]);
  });

  it('maps a 409 naming the key in use to a non-retryable serverHasNewerKey', async () => {
    answer = { status: 409, body: { error: 'newer', code: 'serverHasNewerKey', inUse } };
    const err = await rejection(target().install(key));
    expect(err.detail).toMatchObject({ code: 'serverHasNewerKey', retryable: false, status: 409 });
    expect(err.message).toContain(inUse.thumbprint);
    expect(err.message).toContain(inUse.notBefore);
  });

  it('keeps any other 409 what it was (a conflict, e.g. a thumbprint that does not match the secret)', async () => {
    answer = { status: 409, body: { error: 'the secret holds thumbprint X, not Y' } };
    const err = await rejection(target().install(key));
    expect(err.detail.code).not.toBe('serverHasNewerKey');
    expect(err.detail.status).toBe(409);
    expect(newerKeyInUse({ error: 'x' })).toBeUndefined();
  });

  it('a restore says so, and names the key it replaces (the one the server reports)', async () => {
    answer = { status: 409, body: { error: 'newer', code: 'serverHasNewerKey', inUse } };
    requests.length = 0;
    expect((await rejection(target().restore(key))).detail.code).toBe('serverHasNewerKey');
    expect(requests[0]).toMatchObject({ action: 'restore', replaces: inUse.thumbprint });
  });
});
