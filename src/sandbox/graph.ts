/**
 * Microsoft Graph `applications`: GET by object id or `(appId='…')` with `$select` (the certificate `key` only with
 * `$select`), PATCH keyCredentials (replaces the collection, existing entries matched by keyId), addKey/removeKey
 * with the proof-of-possession JWT, owners and federated identity credentials, app-role permission checks,
 * a write budget per caller app (429 + Retry-After) and, optionally, reads that lag writes.
 */
import { X509Certificate, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { bearerToken, type AccessTokenClaims, type AccessTokenIssuer } from './access-tokens.js';
import type { SandboxClock } from './clock.js';
import type { Application, Directory, KeyCredential } from './directory.js';

/** Audiences Graph accepts for its tokens: the public resource URI, its app id and the sandbox's own Graph URL. */
export const graphResource = 'https://graph.microsoft.com';
export const graphAppId = '00000003-0000-0000-c000-000000000000';
/** The proof JWT audience (AAD Graph's app id); a later doc revision says Graph's, so both are accepted. */
const proofAudiences = ['00000002-0000-0000-c000-000000000000', graphAppId];
const PROOF_MAX_LIFETIME_S = 600;
const PROOF_SKEW_S = 60;

const readRoles = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Application.ReadWrite.OwnedBy',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];

export interface GraphOptions {
  directory: Directory;
  tokens: AccessTokenIssuer;
  clock: SandboxClock;
  /** The Graph base URL (`https://127.0.0.1:PORT`), accepted as a token audience too. */
  baseUrl(): string;
  /** Writes (PATCH, addKey, removeKey) allowed per caller app and tenant in `windowSeconds`; 0 = unlimited. */
  writeBudget?: { writes: number; windowSeconds: number };
  /** Seconds by which application reads lag writes (0 = read-your-writes). */
  readLagSeconds?: number;
}

class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Graph's error body; `innerError.date` carries no time zone, as real responses do. */
export function graphErrorBody(code: string, message: string, nowMs: number, clientRequestId?: string) {
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, ''),
        'request-id': randomUUID(),
        'client-request-id': clientRequestId ?? randomUUID(),
      },
    },
  };
}

const graphDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function keyCredentialJson(k: KeyCredential, withKey: boolean) {
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

interface ParsedPath {
  app?: Application;
  lookup?: string;
  action?: string;
  list?: boolean;
}

export function registerGraph(app: FastifyInstance, opts: GraphOptions): void {
  const { directory, clock } = opts;
  const writeLog = new Map<string, number[]>();
  const odata = (fragment: string) => `${graphResource}/v1.0/$metadata#${fragment}`;

  async function authenticate(req: FastifyRequest): Promise<AccessTokenClaims> {
    const result = await opts.tokens.verify(bearerToken(req.headers.authorization), [
      graphResource,
      graphAppId,
      opts.baseUrl(),
    ]);
    if ('error' in result) throw new GraphHttpError(401, 'InvalidAuthenticationToken', result.error);
    if (result.claims.tid !== directory.tenantId) {
      throw new GraphHttpError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    }
    return result.claims;
  }

  function parse(rawPath: string): ParsedPath {
    const path = decodeURIComponent(rawPath);
    if (path === '/v1.0/applications' || path === '/v1.0/applications/') return { list: true };
    const m = /^\/v1\.0\/applications(?:\/([^/()]+)|\(appId='([^']*)'\))(?:\/([^/]+))?\/?$/.exec(path);
    if (!m) throw new GraphHttpError(400, 'Request_BadRequest', `Resource not found for the segment '${path}'.`);
    const lookup = m[1] ?? m[2] ?? '';
    const found = m[1] !== undefined ? directory.appById(m[1]) : directory.appByAppId(m[2] ?? '');
    if (!found) {
      throw new GraphHttpError(
        404,
        'Request_ResourceNotFound',
        `Resource '${lookup}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    const parsed: ParsedPath = { app: found, lookup };
    if (m[3] !== undefined) parsed.action = m[3];
    return parsed;
  }

  const isOwner = (target: Application, caller: AccessTokenClaims) => target.owners.includes(caller.oid);
  const denied = () =>
    new GraphHttpError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');

  function requireRead(caller: AccessTokenClaims) {
    if (!caller.roles?.some((r) => readRoles.includes(r))) throw denied();
  }
  function canManage(target: Application, caller: AccessTokenClaims): boolean {
    const roles = caller.roles ?? [];
    if (roles.includes('Application.ReadWrite.All') || roles.includes('Directory.ReadWrite.All')) return true;
    return roles.includes('Application.ReadWrite.OwnedBy') && isOwner(target, caller);
  }

  function chargeWrite(caller: AccessTokenClaims) {
    const budget = opts.writeBudget;
    if (!budget || budget.writes <= 0) return;
    const key = `${caller.appid}/${directory.tenantId}`;
    const now = clock.now();
    const windowMs = budget.windowSeconds * 1000;
    const recent = (writeLog.get(key) ?? []).filter((t) => t > now - windowMs);
    if (recent.length >= budget.writes) {
      writeLog.set(key, recent);
      const retryAfter = Math.max(1, Math.ceil(((recent[0] ?? now) + windowMs - now) / 1000));
      throw new GraphHttpError(
        429,
        'Request_ThrottledTemporarily',
        `Your request is throttled temporarily. Please try after ${retryAfter} seconds.`,
        {
          'retry-after': String(retryAfter),
          'x-ms-throttle-scope': `Tenant_Application/ReadWrite/${caller.appid}/${directory.tenantId}`,
          'x-ms-throttle-information': 'WriteLimitExceeded',
        },
      );
    }
    recent.push(now);
    writeLog.set(key, recent);
  }

  function applicationJson(target: Application, select: string[] | undefined, expand: string[]) {
    const withKey = select !== undefined;
    const keys = directory.keyCredentialsAsSeen(target, (opts.readLagSeconds ?? 0) * 1000);
    const full: Record<string, unknown> = {
      id: target.id,
      appId: target.appId,
      displayName: target.displayName,
      createdDateTime: target.createdDateTime,
      signInAudience: 'AzureADMyOrg',
      deletedDateTime: null,
      keyCredentials: keys.map((k) => keyCredentialJson(k, withKey)),
      passwordCredentials: target.passwordCredentials.map((p) => ({
        customKeyIdentifier: null,
        displayName: p.displayName,
        endDateTime: graphDate(p.endMs),
        hint: p.secretText.slice(0, 3),
        keyId: p.keyId,
        secretText: null,
        startDateTime: graphDate(p.startMs),
      })),
    };
    const fics = target.federatedIdentityCredentials.map((f) => ({ ...f }));
    let out: Record<string, unknown>;
    if (select) {
      out = {};
      for (const s of select) {
        if (s === 'federatedIdentityCredentials') out[s] = fics;
        else if (s in full) out[s] = full[s];
      }
    } else out = full;
    if (expand.includes('federatedIdentityCredentials')) out.federatedIdentityCredentials = fics;
    const ctx = select ? `applications(${select.join(',')})/$entity` : 'applications/$entity';
    return { '@odata.context': odata(ctx), ...out };
  }

  /** Validates a new key credential from a request and builds it; the rules Graph applies to certificates. */
  function newKeyCredential(entry: Record<string, unknown>, keyId?: string): KeyCredential {
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

  /** Checks the proof-of-possession JWT: signed by a currently valid key of the app, iss = object id, aud, ≤ 10 min. */
  async function verifyProof(target: Application, proof: unknown) {
    const malformed = () =>
      new GraphHttpError(401, 'Authentication_MissingOrMalformed', 'Access Token missing or malformed.');
    if (typeof proof !== 'string' || proof.split('.').length !== 3 || proof.includes('=')) throw malformed();
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw malformed();
    }
    const now = clock.now();
    const valid = target.keyCredentials.filter((k) => k.startMs <= now && now < k.endMs);
    const hinted = valid.filter(
      (k) =>
        (typeof header.x5t === 'string' && header.x5t === k.x5t) ||
        (typeof header['x5t#S256'] === 'string' && header['x5t#S256'] === k.x5tS256) ||
        (typeof header.kid === 'string' && header.kid.toUpperCase() === k.thumbprint),
    );
    const candidates = hinted.length > 0 ? hinted : valid;
    for (const key of candidates) {
      try {
        const { payload } = await jwtVerify(proof, key.publicKey, {
          algorithms: ['RS256', 'PS256'],
          audience: proofAudiences,
          issuer: target.id,
          currentDate: new Date(now),
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

  function sendError(reply: FastifyReply, req: FastifyRequest, err: GraphHttpError) {
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    const crid = req.headers['client-request-id'];
    return reply
      .code(err.status)
      .type('application/json')
      .send(graphErrorBody(err.code, err.message, clock.now(), typeof crid === 'string' ? crid : undefined));
  }

  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      req,
      new GraphHttpError(400, 'BadRequest', `Invalid version or segment: '${req.url.split('?')[0] ?? ''}'.`),
    ),
  );
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return sendError(
      reply,
      req,
      new GraphHttpError(status, status === 500 ? 'generalException' : 'BadRequest', err.message),
    );
  });

  app.addHook('onRequest', async (req, reply) => {
    const crid = req.headers['client-request-id'];
    reply.header('request-id', randomUUID());
    if (typeof crid === 'string') reply.header('client-request-id', crid);
  });

  const handle =
    (fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await fn(req, reply);
      } catch (err) {
        if (err instanceof GraphHttpError) return sendError(reply, req, err);
        throw err;
      }
    };

  app.get(
    '/v1.0/*',
    handle(async (req) => {
      const caller = await authenticate(req);
      requireRead(caller);
      const query = req.query as Record<string, string | undefined>;
      const select = query.$select
        ? query.$select
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
      const expand = query.$expand ? query.$expand.split(',').map((s) => s.trim()) : [];
      const parsed = parse(req.url.split('?')[0] ?? '');
      if (parsed.list) {
        const m = /^appId eq '([^']*)'$/.exec(query.$filter ?? '');
        const apps = query.$filter
          ? m
            ? [directory.appByAppId(m[1] ?? '')].filter((a) => a !== undefined)
            : []
          : directory.apps();
        if (query.$filter && !m) throw new GraphHttpError(400, 'Request_UnsupportedQuery', 'Unsupported query.');
        return {
          '@odata.context': odata('applications'),
          // `key` is only ever returned on a single-object GET.
          value: apps.map((a) => {
            const j = applicationJson(a, select, expand) as Record<string, unknown>;
            delete j['@odata.context'];
            if (Array.isArray(j.keyCredentials)) {
              j.keyCredentials = (j.keyCredentials as Record<string, unknown>[]).map((k) => ({ ...k, key: null }));
            }
            return j;
          }),
        };
      }
      const target = parsed.app as Application;
      if (parsed.action === undefined) return applicationJson(target, select, expand);
      if (parsed.action === 'owners') {
        return {
          '@odata.context': odata('directoryObjects'),
          value: target.owners
            .map((sp) => directory.appByServicePrincipalId(sp))
            .filter((a) => a !== undefined)
            .map((a) => ({
              '@odata.type': '#microsoft.graph.servicePrincipal',
              id: a.servicePrincipalId,
              appId: a.appId,
              displayName: a.displayName,
            })),
        };
      }
      if (parsed.action === 'federatedIdentityCredentials') {
        return {
          '@odata.context': odata(`applications('${target.id}')/federatedIdentityCredentials`),
          value: target.federatedIdentityCredentials,
        };
      }
      throw new GraphHttpError(400, 'Request_BadRequest', `Unsupported segment '${parsed.action}'.`);
    }),
  );

  app.patch(
    '/v1.0/*',
    handle(async (req, reply) => {
      const caller = await authenticate(req);
      const parsed = parse(req.url.split('?')[0] ?? '');
      if (!parsed.app || parsed.action !== undefined)
        throw new GraphHttpError(405, 'Request_BadRequest', 'PATCH is not supported here.');
      const target = parsed.app;
      if (!canManage(target, caller)) throw denied();
      chargeWrite(caller);
      const body = (req.body ?? {}) as Record<string, unknown>;
      for (const prop of Object.keys(body)) {
        if (prop === 'passwordCredentials') {
          throw new GraphHttpError(
            400,
            'Request_BadRequest',
            'New password credentials must be generated using service actions.',
          );
        }
        if (prop !== 'keyCredentials' && prop !== 'displayName') {
          throw new GraphHttpError(
            400,
            'Request_BadRequest',
            `Property '${prop}' is not supported by the sandbox for PATCH.`,
          );
        }
      }
      if (typeof body.displayName === 'string') target.displayName = body.displayName;
      if (body.keyCredentials !== undefined) {
        if (!Array.isArray(body.keyCredentials))
          throw new GraphHttpError(400, 'Request_BadRequest', 'keyCredentials must be a collection.');
        const next: KeyCredential[] = [];
        const seen = new Set<string>();
        for (const raw of body.keyCredentials as Record<string, unknown>[]) {
          const keyId = typeof raw.keyId === 'string' ? raw.keyId.toLowerCase() : undefined;
          if (keyId && seen.has(keyId))
            throw new GraphHttpError(400, 'Request_BadRequest', `Duplicate keyId '${keyId}'.`);
          if (keyId) seen.add(keyId);
          const existing = keyId ? target.keyCredentials.find((k) => k.keyId.toLowerCase() === keyId) : undefined;
          if (existing) {
            // Existing entries are matched by keyId; their key material may be omitted but never changed.
            if (
              typeof raw.key === 'string' &&
              raw.key !== '' &&
              raw.key !== Buffer.from(existing.key).toString('base64')
            ) {
              throw new GraphHttpError(
                400,
                'Request_BadRequest',
                `Update to existing credential with KeyId '${existing.keyId}' is not allowed.`,
              );
            }
            next.push(existing);
          } else {
            next.push(newKeyCredential(raw, keyId));
          }
        }
        directory.setKeyCredentials(target, next);
      }
      return reply.code(204).send();
    }),
  );

  app.post(
    '/v1.0/*',
    handle(async (req, reply) => {
      const caller = await authenticate(req);
      const parsed = parse(req.url.split('?')[0] ?? '');
      const target = parsed.app;
      if (!target || (parsed.action !== 'addKey' && parsed.action !== 'removeKey')) {
        throw new GraphHttpError(400, 'Request_BadRequest', 'Unsupported POST.');
      }
      // An app may roll its own keys with no directory role; anyone else needs a role on it.
      if (caller.appid !== target.appId && !canManage(target, caller)) throw denied();
      chargeWrite(caller);
      const body = (req.body ?? {}) as Record<string, unknown>;
      await verifyProof(target, body.proof);
      if (parsed.action === 'addKey') {
        const kc = body.keyCredential as Record<string, unknown> | undefined;
        if (!kc || typeof kc !== 'object')
          throw new GraphHttpError(400, 'Request_BadRequest', 'keyCredential is required.');
        if (kc.type !== 'AsymmetricX509Cert' || kc.usage !== 'Verify') {
          throw new GraphHttpError(
            400,
            'Request_BadRequest',
            'keyCredential type must be AsymmetricX509Cert with usage Verify.',
          );
        }
        const created = newKeyCredential(kc);
        directory.setKeyCredentials(target, [...target.keyCredentials, created]);
        return reply
          .code(200)
          .send({ '@odata.context': odata('microsoft.graph.keyCredential'), ...keyCredentialJson(created, false) });
      }
      const keyId = typeof body.keyId === 'string' ? body.keyId.toLowerCase() : '';
      const remaining = target.keyCredentials.filter((k) => k.keyId.toLowerCase() !== keyId);
      if (remaining.length === target.keyCredentials.length) {
        throw new GraphHttpError(400, 'Request_BadRequest', `No credentials found to be removed. keyId: '${keyId}'.`);
      }
      directory.setKeyCredentials(target, remaining);
      return reply.code(204).send();
    }),
  );
}
