/**
 * Entra ID: tenant-scoped OpenID metadata, instance discovery, the signing keys and the v2.0 token endpoint for
 * client credentials (client secret, or a certificate assertion RS256 + x5t / PS256 + x5t#S256). Errors are the
 * AADSTS JSON bodies MSAL parses; 4xx replies never carry Retry-After (MSAL would throttle itself for 60 s).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { AccessTokenIssuer } from './access-tokens.js';
import type { SandboxClock } from './clock.js';
import type { Application, Directory, KeyCredential } from './directory.js';
import type { History } from './history.js';
import { thumbprintHeaderBytes } from './pki.js';

/** What a token audience resolves to: the resource kind and the roles the app holds for it. */
export interface ResourceResolution {
  kind: string;
  roles: string[];
  /**
   * `1` for a resource that takes v1.0 access tokens (Storage: issuer `https://sts.windows.net/{tenant}/`, `ver`
   * 1.0, as Entra issues them for a resource whose accessTokenAcceptedVersion is unset); default v2.0.
   */
  tokenVersion?: 1 | 2;
}

export interface EntraOptions {
  directory: Directory;
  tokens: AccessTokenIssuer;
  clock: SandboxClock;
  history: History;
  /** The Entra base URL (`https://127.0.0.1:PORT`); set once the instance listens. */
  baseUrl(): string;
  /** Maps a resource (scope minus `/.default`) to its kind and the app's roles there; undefined = unknown. */
  resolveResource(resource: string, app: Application): ResourceResolution | undefined;
  /** Told of every token issued (the admin API's `/tokens` counts them per identity and resource). */
  onTokenIssued?(appId: string, resource: string): void;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Assertions may live at most ten minutes (msal-node makes exactly 600 s); a few seconds of rounding are allowed. */
const MAX_ASSERTION_LIFETIME_S = 605;
const CLOCK_SKEW_S = 300;

function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** An AADSTS error body as Entra writes it. */
export function aadstsBody(code: number, error: string, text: string, nowMs: number) {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = entraTimestamp(nowMs);
  return {
    error,
    error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

/** Registers Entra's routes on its instance. */
export function registerEntra(app: FastifyInstance, opts: EntraOptions): void {
  const { directory, clock } = opts;
  const tenantOk = (t: string) => t.toLowerCase() === directory.tenantId.toLowerCase();

  function fail(reply: FastifyReply, status: number, code: number, error: string, text: string) {
    return reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send(aadstsBody(code, error, text, clock.now()));
  }
  const unknownTenant = (reply: FastifyReply, t: string) =>
    fail(
      reply,
      400,
      90002,
      'invalid_request',
      `Tenant '${t}' not found. Check to make sure you have the correct tenant ID.`,
    );

  const metadata = (tenant: string) => {
    const base = `${opts.baseUrl()}/${tenant}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${opts.baseUrl()}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${opts.baseUrl()}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid', 'roles'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'WW',
      cloud_instance_name: new URL(opts.baseUrl()).host,
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  };

  // MSAL parses every reply as JSON: unknown paths and failures answer in AADSTS form too, never fastify's own.
  app.setNotFoundHandler((req, reply) =>
    fail(reply, 404, 90002, 'invalid_request', `The endpoint '${req.url.split('?')[0] ?? ''}' does not exist.`),
  );
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return status === 500
      ? fail(reply, 500, 90033, 'server_error', 'A transient error has occurred. Please try again.')
      : fail(reply, status, 900144, 'invalid_request', err.message);
  });

  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
    if (!tenantOk(req.params.tenant)) return unknownTenant(reply, req.params.tenant);
    return metadata(req.params.tenant);
  });

  // MSAL asks for instance discovery unless told the authority is known; answering it keeps such clients working
  // when they are pointed at this host for discovery too.
  const discovery = async (req: { query: unknown }) => {
    const host = new URL(opts.baseUrl()).host;
    const authEndpoint = (req.query as { authorization_endpoint?: string }).authorization_endpoint;
    const tenant = authEndpoint
      ? (new URL(authEndpoint).pathname.split('/')[1] ?? directory.tenantId)
      : directory.tenantId;
    return {
      tenant_discovery_endpoint: `${opts.baseUrl()}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    };
  };
  app.get('/common/discovery/instance', discovery);
  app.get('/:tenant/discovery/instance', discovery);

  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/v2.0/keys', async (req, reply) => {
    if (!tenantOk(req.params.tenant)) return unknownTenant(reply, req.params.tenant);
    return opts.tokens.jwks();
  });

  app.post<{ Params: { tenant: string }; Body: Record<string, string | undefined> }>(
    '/:tenant/oauth2/v2.0/token',
    async (req, reply) => {
      const { tenant } = req.params;
      if (!tenantOk(tenant)) return unknownTenant(reply, tenant);
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      if (body.grant_type !== 'client_credentials') {
        return fail(
          reply,
          400,
          70003,
          'unsupported_grant_type',
          `The app requested an unsupported grant type '${body.grant_type ?? ''}'.`,
        );
      }
      const clientId = body.client_id ?? '';
      const client = directory.appByAppId(clientId);
      if (!client) {
        return fail(
          reply,
          400,
          700016,
          'unauthorized_client',
          `Application with identifier '${clientId}' was not found in the directory '${directory.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        );
      }
      const scopes = (body.scope ?? '')
        .split(' ')
        .filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
      const scope = scopes[0];
      if (scopes.length !== 1 || !scope?.endsWith('/.default')) {
        return fail(
          reply,
          400,
          1002012,
          'invalid_scope',
          `The provided value for scope ${body.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
      const resource = scope.slice(0, -'/.default'.length);
      const resolved = opts.resolveResource(resource, client);
      if (!resolved) {
        return fail(
          reply,
          400,
          500011,
          'invalid_resource',
          `The resource principal named ${resource} was not found in the tenant named ${directory.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
        );
      }

      let usedKey: KeyCredential | undefined;
      if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) {
        if (body.client_assertion_type !== JWT_BEARER || !body.client_assertion) {
          return fail(reply, 400, 50027, 'invalid_request', 'JWT token is invalid or malformed.');
        }
        const checked = await checkAssertion(
          body.client_assertion,
          client,
          `${opts.baseUrl()}/${tenant}/oauth2/v2.0/token`,
        );
        if ('error' in checked) return fail(reply, 401, checked.code, 'invalid_client', checked.error);
        usedKey = checked.key;
      } else if (body.client_secret !== undefined) {
        const match = client.passwordCredentials.find((p) => p.secretText === body.client_secret);
        if (!match) {
          return fail(
            reply,
            401,
            7000215,
            'invalid_client',
            `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.appId}'.`,
          );
        }
        if (clock.now() >= match.endMs) {
          return fail(
            reply,
            401,
            7000222,
            'invalid_client',
            `The provided client secret keys for app '${client.appId}' are expired. Visit the Azure portal to create new keys for your app.`,
          );
        }
      } else {
        return fail(
          reply,
          401,
          7000218,
          'invalid_client',
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
      }

      const accessToken = await opts.tokens.sign({
        aud: resource,
        appid: client.appId,
        tid: directory.tenantId,
        oid: client.servicePrincipalId,
        roles: resolved.roles,
        ...(resolved.tokenVersion === 1 ? { v1: true } : {}),
      });
      if (usedKey)
        opts.history.record({ kind: 'token', appId: client.appId, thumbprint: usedKey.thumbprint, resource });
      opts.onTokenIssued?.(client.appId, resource);
      return reply.type('application/json; charset=utf-8').send({
        token_type: 'Bearer',
        expires_in: opts.tokens.lifetimeSeconds,
        ext_expires_in: opts.tokens.lifetimeSeconds,
        access_token: accessToken,
      });
    },
  );

  async function checkAssertion(
    assertion: string,
    client: Application,
    tokenEndpoint: string,
  ): Promise<{ key: KeyCredential } | { code: number; error: string }> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      return { code: 50027, error: 'JWT token is invalid or malformed.' };
    }
    // Thumbprints are compared as bytes: padded or unpadded base64url name the same key, and Entra accepts both
    // (MSAL for Python sends the padded form; issue 14, graph-entra.md §5.2).
    const x5tS256 = typeof header['x5t#S256'] === 'string' ? thumbprintHeaderBytes(header['x5t#S256']) : undefined;
    const x5t = typeof header.x5t === 'string' ? thumbprintHeaderBytes(header.x5t) : undefined;
    const shown = x5tS256 ?? x5t;
    const shownThumbprint = shown ? shown.toString('hex').toUpperCase() : '';
    const keyProblem = (reason: string) => ({
      code: 700027,
      error: `Client assertion contains an invalid signature. [Reason - ${reason}, Thumbprint of key used by client: '${shownThumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${client.appId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/api/resources/application to learn how to configure keys.]`,
    });
    const key = client.keyCredentials.find((k) =>
      x5tS256
        ? x5tS256.equals(Buffer.from(k.x5tS256, 'base64url'))
        : x5t !== undefined && x5t.equals(Buffer.from(k.thumbprint, 'hex')),
    );
    if (!key) return keyProblem('The key was not found.');
    const state = directory.keyState(key);
    // A key written moments ago is not yet known to the token service: Entra says "not found", not "invalid".
    if (state === 'notPropagated') return keyProblem('The key was not found.');
    if (state === 'expired') return keyProblem('The key used is expired.');
    if (state === 'notYetValid') return keyProblem('The key used is not yet valid.');
    if (header.alg !== 'RS256' && header.alg !== 'PS256') {
      return {
        code: 5002738,
        error: `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm.`,
      };
    }
    try {
      const { payload } = await jwtVerify(assertion, key.publicKey, {
        algorithms: ['RS256', 'PS256'],
        currentDate: new Date(clock.now()),
        clockTolerance: CLOCK_SKEW_S,
      });
      const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      if (!aud.some((a) => typeof a === 'string' && a.split('?')[0]?.toLowerCase() === tokenEndpoint.toLowerCase())) {
        return {
          code: 700021,
          error: `Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .`,
        };
      }
      if (payload.iss !== client.appId || (payload.sub !== undefined && payload.sub !== client.appId)) {
        return {
          code: 700021,
          error:
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
        };
      }
      const start = payload.nbf ?? payload.iat;
      if (payload.exp === undefined || start === undefined || payload.exp - start > MAX_ASSERTION_LIFETIME_S) {
        return {
          code: 700024,
          error:
            'Client assertion is not within its valid time range. The assertion lifetime must not exceed 10 minutes.',
        };
      }
      return { key };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired || err instanceof joseErrors.JWTClaimValidationFailed) {
        const now = new Date(clock.now()).toISOString();
        return { code: 700024, error: `Client assertion is not within its valid time range. Current time: ${now}.` };
      }
      return keyProblem('The key was found, but the signature did not verify with it.');
    }
  }
}
