/**
 * keyCredential on the wire: its JSON (the certificate `key` only when asked for) and the rules Graph applies to a
 * new certificate credential (type, usage, DER, dates within the certificate's validity).
 */
import { X509Certificate, randomUUID } from 'node:crypto';
import type { Directory, KeyCredential } from '../directory.js';
import { graphDate } from './context.js';
import { GraphHttpError } from './errors.js';

/** A keyCredential as Graph returns it; `key` is null unless `withKey`. */
export function keyCredentialJson(k: KeyCredential, withKey: boolean) {
  return {
    customKeyIdentifier: k.customKeyIdentifier,
    displayName: k.displayName,
    endDateTime: graphDate(k.endMs),
    key: withKey ? Buffer.from(k.key).toString('base64') : null,
    keyId: k.keyId,
    startDateTime: graphDate(k.startMs),
    type: k.type,
    usage: k.usage,
  };
}

/** Validates a new key credential from a request and builds it; the rules Graph applies to certificates. */
export function newKeyCredential(directory: Directory, entry: Record<string, unknown>, keyId?: string): KeyCredential {
  if (entry.type !== undefined && entry.type !== 'AsymmetricX509Cert') {
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      `Key credential type '${String(entry.type)}' is not supported by the sandbox.`,
    );
  }
  if (entry.usage !== undefined && entry.usage !== 'Verify') {
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      'The value for the property "usage" in one of your credentials is invalid. Acceptable values are Sign, Verify.',
    );
  }
  let der: Uint8Array;
  let cert: X509Certificate;
  try {
    if (typeof entry.key !== 'string' || entry.key === '') throw new Error('no key');
    der = new Uint8Array(Buffer.from(entry.key, 'base64'));
    cert = new X509Certificate(der);
  } catch {
    throw new GraphHttpError(400, 'Request_BadRequest', 'Invalid certificate: Key value is invalid certificate.');
  }
  const certEnd = Date.parse(cert.validTo);
  const certStart = Date.parse(cert.validFrom);
  const endMs = typeof entry.endDateTime === 'string' ? Date.parse(entry.endDateTime) : certEnd;
  const startMs = typeof entry.startDateTime === 'string' ? Date.parse(entry.startDateTime) : certStart;
  if (Number.isNaN(endMs) || endMs > certEnd) {
    throw new GraphHttpError(400, 'KeyCredentialsInvalidEndDate', 'Key credential end date is invalid.');
  }
  if (Number.isNaN(startMs) || startMs < certStart - 1000 || startMs >= endMs) {
    throw new GraphHttpError(400, 'KeyCredentialsInvalidStartDate', 'Key credential start date is invalid.');
  }
  const kc = directory.keyCredentialFromCertificate(der, {
    keyId: keyId ?? randomUUID(),
    startMs,
    endMs,
    ...(typeof entry.displayName === 'string' ? { displayName: entry.displayName } : {}),
  });
  if (typeof entry.customKeyIdentifier === 'string' && entry.customKeyIdentifier) {
    kc.customKeyIdentifier = entry.customKeyIdentifier;
  }
  return kc;
}

/**
 * PATCH semantics of `keyCredentials`: the list replaces the collection; entries resent by keyId keep their stored
 * material (it may be omitted but never changed), entries without a known keyId are new credentials.
 */
export function replacedKeyCredentials(
  directory: Directory,
  current: KeyCredential[],
  requested: unknown,
): KeyCredential[] {
  if (!Array.isArray(requested))
    throw new GraphHttpError(400, 'Request_BadRequest', 'keyCredentials must be a collection.');
  const next: KeyCredential[] = [];
  const seen = new Set<string>();
  for (const raw of requested as Record<string, unknown>[]) {
    const keyId = typeof raw.keyId === 'string' ? raw.keyId.toLowerCase() : undefined;
    if (keyId && seen.has(keyId)) throw new GraphHttpError(400, 'Request_BadRequest', `Duplicate keyId '${keyId}'.`);
    if (keyId) seen.add(keyId);
    const existing = keyId ? current.find((k) => k.keyId.toLowerCase() === keyId) : undefined;
    if (existing) {
      if (typeof raw.key === 'string' && raw.key !== '' && raw.key !== Buffer.from(existing.key).toString('base64')) {
        throw new GraphHttpError(
          400,
          'Request_BadRequest',
          `Update to existing credential with KeyId '${existing.keyId}' is not allowed.`,
        );
      }
      next.push(existing);
    } else {
      next.push(newKeyCredential(directory, raw, keyId));
    }
  }
  return next;
}
