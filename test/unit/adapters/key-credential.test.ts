import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { thumbprintOfKeyCredential } from '../../../src/adapters/azure/app-registry.js';

describe('thumbprintOfKeyCredential', () => {
  const der = Buffer.from('not really a certificate, but bytes all the same');
  const sha1 = createHash('sha1').update(der).digest();
  const hex = sha1.toString('hex').toUpperCase();

  it('prefers the SHA-1 of `key` (the DER) when Graph returned it', () => {
    expect(thumbprintOfKeyCredential({ key: der.toString('base64'), customKeyIdentifier: 'ignored' })).toBe(hex);
  });
  it('reads customKeyIdentifier as 40 hex characters (portal form)', () => {
    expect(thumbprintOfKeyCredential({ customKeyIdentifier: hex.toLowerCase() })).toBe(hex);
  });
  it('reads customKeyIdentifier as base64 of the 20-byte SHA-1 (Graph default)', () => {
    expect(thumbprintOfKeyCredential({ customKeyIdentifier: sha1.toString('base64') })).toBe(hex);
  });
  it('reads customKeyIdentifier as base64 of the hex text', () => {
    expect(thumbprintOfKeyCredential({ customKeyIdentifier: Buffer.from(hex).toString('base64') })).toBe(hex);
  });
  it('is empty when neither tells', () => {
    expect(thumbprintOfKeyCredential({ customKeyIdentifier: null, key: null })).toBe('');
  });
});
