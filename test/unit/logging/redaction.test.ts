import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.js';
import { scrubString, scrubValue } from '../../../src/logging/scrub.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
const keyBody = pem.split('\n')[5]!; // a line from the middle of the key
const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCJ9.c2lnbmF0dXJlc2lnbmF0dXJl';

describe('scrub', () => {
  it('removes PEM private keys of every flavour, tokens and DER blobs from strings', () => {
    const text = `a ${pem} b ${pkcs1} c Bearer ${jwt} d ${der}`;
    const out = scrubString(text);
    expect(out).not.toContain(keyBody);
    expect(out).not.toContain('PRIVATE KEY-----\n');
    expect(out).not.toContain(jwt);
    expect(out).not.toContain(der.slice(100, 200));
    expect(out).toContain('[REDACTED PRIVATE KEY]');
    expect(out).toContain('[REDACTED TOKEN]');
  });

  it('replaces secret-named fields and keeps thumbprints and ids', () => {
    const err = Object.assign(new Error(`failed with ${pem}`), { code: 'E1' });
    const out = scrubValue({
      thumbprint: 'A1B2C3',
      keyId: '1f0e',
      clientSecret: 'hunter2',
      nested: { privateKey: 'x', headers: { authorization: 'Bearer abc' } },
      err,
    }) as Record<string, unknown>;
    expect(out).toMatchObject({ thumbprint: 'A1B2C3', keyId: '1f0e', clientSecret: '[REDACTED]' });
    expect(JSON.stringify(out)).not.toContain('hunter2');
    expect(JSON.stringify(out)).not.toContain('Bearer abc');
    expect(JSON.stringify(out)).not.toContain(keyBody);
    expect((out.err as { code: string }).code).toBe('E1');
  });
});

describe('createLogger', () => {
  it('writes JSON lines to --log-file with mode 0600 and no key material, even when handed a key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certrotate-log-'));
    const file = join(dir, 'logs', 'run.log');
    const log = createLogger({ level: 'debug', file, pretty: false });
    log.debug({ secretValue: pem, thumbprint: 'ABCDEF' }, `installing ${pem}`);
    log.info({ response: { access_token: jwt } }, 'token acquired');
    log.flush();
    const text = await readFile(file, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 20, thumbprint: 'ABCDEF' });
    expect(text).not.toContain(keyBody);
    expect(text).not.toContain(jwt);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
