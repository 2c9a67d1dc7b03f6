/**
 * The {@link TokenVerifier} port: client credentials with a certificate assertion signed by a given key, so that a
 * token proves Entra accepts that key. A fresh credential per attempt: MSAL caches tokens (and throttling verdicts)
 * per instance, and each attempt must ask Entra again.
 */
import { ClientCertificateCredential } from '@azure/identity';
import type { Logger } from 'pino';
import { AdapterError, type TokenVerifier } from '../ports.js';
import type { IdentityOptions } from './credentials.js';
import { classified } from './errors.js';
import { pemBundle, type KeyMaterialLoader } from './key-material.js';

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  tenantId: string;
  identity: IdentityOptions;
  keyMaterial: KeyMaterialLoader;
  logger?: Logger;
}

/** A {@link TokenVerifier} over `@azure/identity`. */
export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  return {
    async acquireToken(appId, key, scope, o) {
      const material = await opts.keyMaterial.load(key, o);
      return classified({ operation: `token for app ${appId} with key ${key.thumbprint}` }, async () => {
        const credential = new ClientCertificateCredential(
          opts.tenantId,
          appId,
          { certificate: pemBundle(material) },
          opts.identity,
        );
        const token = await credential.getToken(scope, o?.signal ? { abortSignal: o.signal } : {});
        if (!token) throw new AdapterError({ code: 'unknown', message: 'Entra returned no token', retryable: true });
        opts.logger?.debug({ appId, thumbprint: key.thumbprint, scope }, 'token acquired with key');
        return { token: token.token, expiresOn: new Date(token.expiresOnTimestamp).toISOString() };
      });
    },
  };
}
