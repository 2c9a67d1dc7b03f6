import { X509Certificate } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROOF_AUDIENCE, signProof } from '../../../src/adapters/azure/proof.js';
import type { CertificateMaterial } from '../../../src/sandbox/pki.js';
import { keyMaterialOf, makeCertificate } from './support.js';

let signer: CertificateMaterial;
beforeAll(async () => {
  signer = await makeCertificate('CN=proof');
});

describe('signProof', () => {
  const objectId = '0f0e0d0c-0000-4000-8000-000000000001';
  const now = Date.parse('2026-03-01T10:00:00.500Z');

  it('carries exactly aud, iss (the object id), nbf and exp = nbf + 10 minutes', async () => {
    const jwt = await signProof(keyMaterialOf(signer), objectId, now);
    const claims = decodeJwt(jwt);
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iss', 'nbf']);
    expect(claims).toEqual({ aud: PROOF_AUDIENCE, iss: objectId, nbf: 1772359200, exp: 1772359200 + 600 });
    expect(PROOF_AUDIENCE).toBe('00000002-0000-0000-c000-000000000000');
  });

  it('is RS256 with x5t (base64url SHA-1) and kid (hex thumbprint), unpadded, and verifies with the certificate', async () => {
    const jwt = await signProof(keyMaterialOf(signer), objectId, Date.now());
    expect(jwt).not.toContain('=');
    const header = decodeProtectedHeader(jwt);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: signer.thumbprint });
    expect(
      Buffer.from(header.x5t as string, 'base64url')
        .toString('hex')
        .toUpperCase(),
    ).toBe(signer.thumbprint);
    const { payload } = await jwtVerify(jwt, new X509Certificate(signer.certPem).publicKey, {
      audience: PROOF_AUDIENCE,
      issuer: objectId,
    });
    expect(payload.iss).toBe(objectId);
  });
});
