import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterError, type KeyRef } from '../../../src/adapters/ports.js';
import { createCommandTarget, thumbprintInOutput } from '../../../src/adapters/servers/command.js';
import { createFileTarget, previousPathOf } from '../../../src/adapters/servers/file.js';
import { createServerTarget, SERVER_KINDS, serverKindOf } from '../../../src/adapters/servers/index.js';
import type { KeyVaultTargetConfig } from '../../../src/config/schema.js';
import type { CertificateMaterial } from '../../../src/sandbox/pki.js';
import { MemoryKeyLoader, makeCertificate } from './support.js';

const node = process.execPath;
let oldCert: CertificateMaterial;
let newCert: CertificateMaterial;
let loader: MemoryKeyLoader;
let oldKey: KeyRef;
let newKey: KeyRef;

beforeAll(async () => {
  // The old key starts a day earlier, so "new" is newer by notBefore whichever key pair is generated first.
  [oldCert, newCert] = await Promise.all([makeCertificate('CN=old', -2), makeCertificate('CN=new')]);
  loader = new MemoryKeyLoader();
  oldKey = loader.add('https://kv.example/secrets/c/0000000000000000000000000000000a', oldCert);
  newKey = loader.add('https://kv.example/secrets/c/0000000000000000000000000000000b', newCert);
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

/** A program (run without a shell) that records its environment and, if given one, facts about its PEM file. */
const RECORDER = `
const fs = require('node:fs');
const { X509Certificate } = require('node:crypto');
const out = { env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CERTROTATE_'))), argv: process.argv.slice(1) };
const f = process.env.CERTROTATE_PEM_FILE;
if (f) {
  const pem = fs.readFileSync(f, 'utf8');
  out.fileMode = (fs.statSync(f).mode & 0o777).toString(8);
  out.dirMode = (fs.statSync(require('node:path').dirname(f)).mode & 0o777).toString(8);
  out.hasKey = pem.includes('PRIVATE KEY');
  out.fileThumbprint = new X509Certificate(pem).fingerprint.replace(/:/g, '');
}
fs.writeFileSync(process.argv[1], JSON.stringify(out));
if (process.env.CERTROTATE_THUMBPRINT) console.log('now using ' + process.env.CERTROTATE_THUMBPRINT);
process.exit(Number(process.env.EXIT_WITH || 0));
`;

describe('command target', () => {
  async function recorder(extra: { pemFile?: boolean; exit?: number } = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'cr-cmd-test-'));
    const record = join(dir, 'record.json');
    const target = createCommandTarget(
      'api',
      { kind: 'command', run: [node, '-e', RECORDER, record], pemFile: extra.pemFile ?? false, timeout: 20_000 },
      { keyMaterial: loader, env: { PATH: process.env.PATH, EXIT_WITH: String(extra.exit ?? 0) } },
    );
    const read = async () =>
      JSON.parse(await readFile(record, 'utf8')) as {
        env: Record<string, string>;
        fileMode?: string;
        dirMode?: string;
        hasKey?: boolean;
        fileThumbprint?: string;
      };
    return { target, read };
  }

  it('runs the program without a shell, with the CERTROTATE_* variables of the action', async () => {
    const { target, read } = await recorder();
    await target.install(newKey);
    const r = await read();
    expect(r.env).toEqual({
      CERTROTATE_TARGET: 'api',
      CERTROTATE_ACTION: 'install',
      CERTROTATE_THUMBPRINT: newCert.thumbprint,
      CERTROTATE_SECRET_ID: newKey.secretId,
    });
    await target.restore(oldKey);
    expect((await read()).env.CERTROTATE_ACTION).toBe('restore');
  });

  it('without pemFile, never reads the private key', async () => {
    const { target } = await recorder();
    const before = loader.loads.length;
    await target.install(newKey);
    expect(loader.loads.length).toBe(before);
  });

  it('with pemFile, hands a 0600 file in a 0700 directory that is gone afterwards', async () => {
    const { target, read } = await recorder({ pemFile: true });
    await target.install(newKey);
    const r = await read();
    expect(r).toMatchObject({ fileMode: '600', dirMode: '700', hasKey: true, fileThumbprint: newCert.thumbprint });
    await expect(stat(r.env.CERTROTATE_PEM_FILE!)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes the PEM file even when the program fails, and reports the exit code', async () => {
    const { target, read } = await recorder({ pemFile: true, exit: 3 });
    const err = await rejection(target.install(newKey));
    expect(err.detail).toMatchObject({ code: 'commandFailed', retryable: false });
    expect(err.message).toMatch(/exited 3/);
    await expect(stat((await read()).env.CERTROTATE_PEM_FILE!)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops a program that overruns its timeout and reports a retryable timeout', async () => {
    const target = createCommandTarget('api', {
      kind: 'command',
      run: [node, '-e', 'setInterval(() => {}, 1000)'],
      pemFile: false,
      timeout: 300,
    });
    const err = await rejection(target.install(newKey));
    expect(err.detail).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('reads the key in use from the last thumbprint the program prints', async () => {
    const target = createCommandTarget('api', {
      kind: 'command',
      run: [
        node,
        '-e',
        `console.log('old ${oldCert.thumbprint.toLowerCase()}'); console.log('in use: ${newCert.thumbprint}')`,
      ],
      pemFile: false,
      timeout: 20_000,
    });
    expect(await target.currentKey()).toEqual({ thumbprint: newCert.thumbprint });
    expect(thumbprintInOutput('nothing here')).toBeUndefined();
  });

  it('refuses an install after which the program reports another key in use', async () => {
    const target = createCommandTarget('api', {
      kind: 'command',
      run: [node, '-e', `console.log('${oldCert.thumbprint}')`],
      pemFile: false,
      timeout: 20_000,
    });
    expect((await rejection(target.install(newKey))).detail.code).toBe('invalidRequest');
  });

  it('reports a missing program as invalidRequest', async () => {
    const target = createCommandTarget('api', {
      kind: 'command',
      run: ['/nonexistent/program'],
      pemFile: false,
      timeout: 1000,
    });
    expect((await rejection(target.install(newKey))).detail.code).toBe('invalidRequest');
  });
});

describe('file target', () => {
  async function fileTarget() {
    const dir = await mkdtemp(join(tmpdir(), 'cr-file-test-'));
    const path = join(dir, 's2s.pem');
    return { path, dir, target: createFileTarget('api', { kind: 'file', path }, { keyMaterial: loader }) };
  }
  const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);
  const certOf = async (p: string) =>
    new X509Certificate(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(await readFile(p, 'utf8'))![0],
    );

  it('has no key before the first install, then writes key and certificate with mode 0600', async () => {
    const { path, target } = await fileTarget();
    expect(await target.currentKey()).toEqual({});
    await target.install(oldKey);
    expect(await target.currentKey()).toEqual({ thumbprint: oldCert.thumbprint });
    expect(await mode(path)).toBe('600');
    const text = await readFile(path, 'utf8');
    expect(text).toContain('PRIVATE KEY');
  });

  it('keeps the replaced key beside the file (0600) and restores it from there', async () => {
    const { path, target, dir } = await fileTarget();
    await target.install(oldKey);
    await target.install(newKey);
    expect((await certOf(path)).fingerprint.replace(/:/g, '')).toBe(newCert.thumbprint);
    expect((await certOf(previousPathOf(path))).fingerprint.replace(/:/g, '')).toBe(oldCert.thumbprint);
    expect(await mode(previousPathOf(path))).toBe('600');
    const loadsBefore = loader.loads.length;
    await target.restore(oldKey);
    expect(await target.currentKey()).toEqual({ thumbprint: oldCert.thumbprint });
    // Restored from `.previous`, without reading Key Vault.
    expect(loader.loads.length).toBe(loadsBefore);
    // No temp files left behind by the atomic writes.
    expect((await readdir(dir)).sort()).toEqual(['s2s.pem', 's2s.pem.previous']);
  });

  it('does nothing when the key is already in use, so `.previous` survives a re-run', async () => {
    const { path, target } = await fileTarget();
    await target.install(oldKey);
    await target.install(newKey);
    const previous = await readFile(previousPathOf(path), 'utf8');
    const loadsBefore = loader.loads.length;
    await target.install(newKey);
    expect(loader.loads.length).toBe(loadsBefore);
    expect(await readFile(previousPathOf(path), 'utf8')).toBe(previous);
  });

  it('reads a file someone else wrote (certificate first) for currentKey', async () => {
    const { path, target } = await fileTarget();
    await writeFile(path, newCert.pemBundle, { mode: 0o600 });
    expect(await target.currentKey()).toEqual({ thumbprint: newCert.thumbprint });
  });
});

describe('manual target and the factory', () => {
  const base = {
    name: 'api',
    kind: 'keyvault',
    app: { appId: '11111111-2222-3333-4444-555555555555' },
    keyVault: {
      url: 'https://kv.vault.azure.net',
      certificate: 'c',
      subject: 'CN=c',
      validityMonths: 12,
      keyType: 'RSA',
      keySize: 2048,
    },
    verify: { dataverseUrl: 'https://org.crm.dynamics.com' },
  } as const;

  it('a manual target says so, observes nothing and refuses to install with the operator instructions', async () => {
    const target = createServerTarget(
      {
        ...base,
        server: { kind: 'manual', instructions: 'Upload the PFX in the admin console.' },
      } as KeyVaultTargetConfig,
      { keyMaterial: loader },
    );
    expect(target.manual).toBe(true);
    expect(await target.currentKey()).toEqual({});
    const err = await rejection(target.install(newKey));
    expect(err.detail).toMatchObject({ code: 'invalidRequest', retryable: false });
    expect(err.message).toContain('Upload the PFX in the admin console.');
    expect((await rejection(target.restore(oldKey))).detail.code).toBe('invalidRequest');
  });

  it('builds each kind from its config', () => {
    const kinds = [
      { kind: 'webhook', url: 'https://api.example/admin/s2s-key', timeout: 60_000 },
      { kind: 'command', run: ['true'], pemFile: false, timeout: 1000 },
      { kind: 'file', path: '/tmp/x.pem' },
    ] as const;
    for (const server of kinds) {
      const t = createServerTarget({ ...base, server } as KeyVaultTargetConfig, { keyMaterial: loader });
      expect(t.manual).toBe(false);
      expect(typeof t.install).toBe('function');
    }
    const webhook = createServerTarget({ ...base, server: kinds[0] } as KeyVaultTargetConfig, { keyMaterial: loader });
    expect(typeof webhook.checkHealth).toBe('function');
  });

  it('registers each kind once, with a schema whose kind is the registered one', () => {
    const kinds = SERVER_KINDS.map((k) => k.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const k of SERVER_KINDS) {
      expect(k.schema.shape.kind.value).toBe(k.kind);
      expect(serverKindOf({ kind: k.kind } as never)).toBe(k);
    }
    expect(() => serverKindOf({ kind: 'ftp' } as never)).toThrow(/server\.kind ftp has no implementation/);
  });
});
