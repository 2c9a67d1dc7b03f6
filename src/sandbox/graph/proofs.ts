/**
 * The proof-of-possession JWT of addKey/removeKey: signed by a currently valid key of the app, `iss` = the app's
 * object id, `aud` AAD Graph's app id (a later doc revision says Graph's, so both are accepted), at most ten minutes.
 */
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { Application, KeyCredential } from '../directory.js';
import { thumbprintHeaderBytes } from '../pki.js';
import { graphAppId } from './context.js';
import { GraphHttpError } from './errors.js';

const proofAudiences = ['00000002-0000-0000-c000-000000000000', graphAppId];
const PROOF_MAX_LIFETIME_S = 600;
const PROOF_SKEW_S = 60;

/** Returns the key that signed `proof`, or throws Graph's 401 Authentication_MissingOrMalformed. */
export async function verifyProof(target: Application, proof: unknown, nowMs: number): Promise<KeyCredential> {
  const malformed = () =>
    new GraphHttpError(401, 'Authentication_MissingOrMalformed', 'Access Token missing or malformed.');
  if (typeof proof !== 'string' || proof.split('.').length !== 3 || proof.includes('=')) throw malformed();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw malformed();
  }
  const valid = target.keyCredentials.filter((k) => k.startMs <= nowMs && nowMs < k.endMs);
  // Hints are compared as bytes, so padded and unpadded base64url name the same key.
  const x5t = typeof header.x5t === 'string' ? thumbprintHeaderBytes(header.x5t) : undefined;
  const x5tS256 = typeof header['x5t#S256'] === 'string' ? thumbprintHeaderBytes(header['x5t#S256']) : undefined;
  const hinted = valid.filter(
    (k) =>
      x5t?.equals(Buffer.from(k.thumbprint, 'hex')) ||
      x5tS256?.equals(Buffer.from(k.x5tS256, 'base64url')) ||
      (typeof header.kid === 'string' && header.kid.toUpperCase() === k.thumbprint),
  );
  const candidates = hinted.length > 0 ? hinted : valid;
  for (const key of candidates) {
    try {
      const { payload } = await jwtVerify(proof, key.publicKey, {
        algorithms: ['RS256', 'PS256'],
        audience: proofAudiences,
        issuer: target.id,
        currentDate: new Date(nowMs),
        clockTolerance: PROOF_SKEW_S,
        requiredClaims: ['nbf', 'exp'],
      });
      if ((payload.exp ?? 0) - (payload.nbf ?? 0) > PROOF_MAX_LIFETIME_S) break;
      return key;
    } catch {
      // Try the next valid key: the proof names its signer only by hint, if at all.
    }
  }
  throw malformed();
}
