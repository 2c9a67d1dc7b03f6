/**
 * The proof of possession Graph's `addKey`/`removeKey` require (graph-entra §2.2): a JWT signed by a key the app
 * holds now, `aud` the AAD Graph app id, `iss` the application's object id, valid for at most 10 minutes.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyMaterial } from './key-material.js';

/** The audience Graph checks on a proof (the AAD Graph app id; the API pages and Microsoft's sample use it). */
export const PROOF_AUDIENCE = '00000002-0000-0000-c000-000000000000';
/** Lifetime of a proof, seconds: the most Graph accepts. */
export const PROOF_LIFETIME_S = 600;

/**
 * Signs a proof for the application with object id `objectId` using `signer`. Claims are exactly `aud`, `iss`,
 * `nbf`, `exp`; the header carries `x5t` (base64url SHA-1) and `kid` (hex thumbprint) so Graph can find the key,
 * as Microsoft's sample (X509SigningCredentials) does. Pure apart from the clock reading passed in.
 */
export async function signProof(signer: KeyMaterial, objectId: string, nowMs: number): Promise<string> {
  const der = new X509Certificate(signer.certificatePem).raw;
  const x5t = createHash('sha1').update(der).digest('base64url');
  const nbf = Math.floor(nowMs / 1000);
  // Loaded on first use: the app registry (and this module with it) is on every command's path to its first request.
  const { SignJWT } = await import('jose');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t, kid: signer.thumbprint })
    .setAudience(PROOF_AUDIENCE)
    .setIssuer(objectId)
    .setNotBefore(nbf)
    .setExpirationTime(nbf + PROOF_LIFETIME_S)
    .sign(createPrivateKey(signer.privateKeyPem));
}
