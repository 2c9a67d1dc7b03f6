/**
 * Access tokens: JWTs the sandbox's Entra signs and every other sandbox service validates (audience, issuer,
 * signature, lifetime), so a token minted for the wrong resource is refused exactly where Azure would refuse it.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, jwtVerify, type JWK } from 'jose';
import type { SandboxClock } from './clock.js';

/** The claims sandbox services read from a validated access token. */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  appid: string;
  azp: string;
  tid: string;
  oid: string;
  sub: string;
  roles: string[];
  iat: number;
  nbf: number;
  exp: number;
}

export interface AccessTokenIssuer {
  /** The `iss` of every token: `${entraBase}/${tenantId}/v2.0` (known once Entra listens). */
  issuer(): string;
  /** Token lifetime in seconds (`expires_in`). */
  readonly lifetimeSeconds: number;
  /**
   * Signs an access token; `v1` gives the v1.0 form (issuer `https://sts.windows.net/{tid}/`, `ver` 1.0) that Entra
   * issues for resources such as Storage — such a token is for that resource only, never verified here.
   */
  sign(claims: Pick<AccessTokenClaims, 'aud' | 'appid' | 'tid' | 'oid' | 'roles'> & { v1?: boolean }): Promise<string>;
  /** Validates a bearer token for one of `audiences`; null when it is missing, forged, expired or for another audience. */
  verify(token: string | undefined, audiences: string[]): Promise<{ claims: AccessTokenClaims } | { error: string }>;
  /** The signing key as a JWKS (served at the tenant's `jwks_uri`). */
  jwks(): Promise<{ keys: JWK[] }>;
}

/** Normalises an audience for comparison: Entra strips a trailing slash from resource URIs. */
export function normaliseAudience(aud: string): string {
  return aud.replace(/\/+$/, '').toLowerCase();
}

export function createAccessTokenIssuer(opts: {
  issuer: () => string;
  keys: CryptoKeyPair;
  clock: SandboxClock;
  lifetimeSeconds?: number;
}): AccessTokenIssuer {
  const kid = randomUUID();
  const lifetimeSeconds = opts.lifetimeSeconds ?? 3599;
  return {
    issuer: opts.issuer,
    lifetimeSeconds,
    async sign(c) {
      const now = Math.floor(opts.clock.now() / 1000);
      return new SignJWT({
        appid: c.appid,
        azp: c.appid,
        tid: c.tid,
        oid: c.oid,
        roles: c.roles,
        ver: c.v1 ? '1.0' : '2.0',
      })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
        .setIssuer(c.v1 ? `https://sts.windows.net/${c.tid}/` : opts.issuer())
        .setAudience(c.aud)
        .setSubject(c.oid)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + lifetimeSeconds)
        .setJti(randomUUID())
        .sign(opts.keys.privateKey);
    },
    async verify(token, audiences) {
      if (!token) return { error: 'Access token is empty.' };
      try {
        const { payload } = await jwtVerify(token, opts.keys.publicKey, {
          algorithms: ['RS256'],
          issuer: opts.issuer(),
          currentDate: new Date(opts.clock.now()),
          clockTolerance: 60,
        });
        const aud = typeof payload.aud === 'string' ? payload.aud : '';
        const wanted = new Set(audiences.map(normaliseAudience));
        if (!wanted.has(normaliseAudience(aud))) return { error: `Invalid audience '${aud}'.` };
        return { claims: payload as unknown as AccessTokenClaims };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_JWT_EXPIRED') return { error: 'Lifetime validation failed, the token is expired.' };
        return { error: 'Access token validation failure. Invalid signature or malformed token.' };
      }
    },
    async jwks() {
      const jwk = await exportJWK(opts.keys.publicKey);
      return { keys: [{ ...jwk, kid, use: 'sig', alg: 'RS256' }] };
    },
  };
}

/** Reads the bearer token from an `authorization` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m?.[1]?.trim();
}
