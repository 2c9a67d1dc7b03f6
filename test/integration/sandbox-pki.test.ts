/**
 * The sandbox PKI and key pool: server certificates clients can trust for 127.0.0.1 and localhost, thumbprints in
 * the portal's form, and a pool that hands out ready keys without generating on the request path.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyPool } from '../../src/sandbox/key-pool.js';
import {
  createSandboxTls,
  createSelfSignedCertificate,
  thumbprintOf,
  x5tOf,
  x5tS256Of,
} from '../../src/sandbox/pki.js';

describe('key pool', () => {
  it('hands out a pooled key at once and refills in the background', async () => {
    const pool = createKeyPool({ target: 2 });
    try {
      await pool.fill(2048, 2);
      expect(pool.size(2048)).toBe(2);
      const taken = pool.takeKeyPair(2048);
      // The key left the pool synchronously: no generation stood between the call and the key.
      expect(pool.size(2048)).toBe(1);
      const kp = await taken;
      expect((kp.privateKey.algorithm as unknown as { modulusLength: number }).modulusLength).toBe(2048);
      expect(kp.privateKey.extractable).toBe(true);
      await pool.fill(2048, 2);
      expect(pool.size(2048)).toBe(2);
    } finally {
      pool.close();
    }
  });

  it('refuses keys under 2048 bits (jsonwebtoken and Entra reject them)', async () => {
    const pool = createKeyPool();
    await expect(pool.takeKeyPair(1024)).rejects.toThrow(/at least 2048/);
    pool.close();
  });
});

describe('PKI', () => {
  it('signs a server certificate for IP:127.0.0.1 and DNS:localhost with its CA', async () => {
    const pool = createKeyPool({ target: 0 });
    const tls = await createSandboxTls(pool);
    pool.close();
    const ca = new X509Certificate(tls.caPem);
    const server = new X509Certificate(tls.certPem);
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(tls.keyPem).toContain('BEGIN PRIVATE KEY');
  });

  it('computes the thumbprint forms Entra and the portal use', async () => {
    const pool = createKeyPool({ target: 0 });
    const m = await createSelfSignedCertificate(await pool.takeKeyPair(2048), {
      subject: 'CN=thumb',
      notBefore: new Date(Date.now() - 1000),
      notAfter: new Date(Date.now() + 86_400_000),
    });
    pool.close();
    const sha1 = createHash('sha1').update(m.certDer).digest();
    expect(thumbprintOf(m.certDer)).toBe(sha1.toString('hex').toUpperCase());
    expect(m.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(x5tOf(m.certDer)).toBe(sha1.toString('base64url'));
    expect(x5tS256Of(m.certDer)).toBe(createHash('sha256').update(m.certDer).digest('base64url'));
    expect(new X509Certificate(m.certPem).fingerprint.replace(/:/g, '')).toBe(m.thumbprint);
    expect(m.pemBundle).toMatch(/BEGIN CERTIFICATE[\s\S]+BEGIN PRIVATE KEY/);
  });
});
