/**
 * The guards every Key Vault request passes, in the service's order, all in `onRequest` so they run **before the
 * body is read**: the SDK's first request on a client carries no token and no body, and must be answered with the
 * 401 challenge whatever its path (reference/keyvault.md §4, §10.3). Then token validation, api-version, permission,
 * and the write budget.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KeyVaultError, badParameter } from './errors.js';
import { queryParam, type KeyVaultRouteConfig, type VaultContext } from './context.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `WWW-Authenticate` value: `Bearer authorization="…", resource="…"`; the SDK splits on spaces, so values have none. */
export function challengeHeader(ctx: VaultContext): string {
  return `Bearer authorization="${ctx.opts.authorizationUri}", resource="${ctx.opts.resource}"`;
}

function unauthorized(ctx: VaultContext, message: string): KeyVaultError {
  return new KeyVaultError(401, 'Unauthorized', message, undefined, { 'www-authenticate': challengeHeader(ctx) });
}

/** Installs the guards on the vault's fastify instance. */
export function installGuards(app: FastifyInstance, ctx: VaultContext): void {
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (!header) throw unauthorized(ctx, 'AKV10000: Request is missing a Bearer or PoP token.');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw unauthorized(ctx, 'AKV10001: Unable to parse the Authorization header as a Bearer token.');
    const caller = await ctx.opts.verifyAccessToken(match[1]!);
    if (!caller)
      throw unauthorized(ctx, 'AKV10032: The access token is invalid, expired or not issued for this resource.');
    ctx.callers.set(request, caller);

    // The real service has no default api-version; any value is accepted because SDK releases move ahead of emulators.
    if (!queryParam(request, 'api-version')) {
      throw badParameter("The 'api-version' query parameter is missing.");
    }

    const operation = operationOf(request);
    if (operation && ctx.opts.authorize && !ctx.opts.authorize(caller, operation)) {
      const [collection, permission] = operation.split('/');
      throw new KeyVaultError(
        403,
        'Forbidden',
        `The user, group or application 'appid=${caller.appId};oid=${caller.objectId ?? ''}' does not have ${collection} ${permission} permission on key vault '${ctx.opts.name}'.`,
        'AccessDenied',
      );
    }
    if (operation && WRITE_METHODS.has(request.method)) ctx.budget.take(operation);
  });
}

function operationOf(request: FastifyRequest): string | undefined {
  const config = request.routeOptions.config as Partial<KeyVaultRouteConfig> | undefined;
  return config?.operation;
}
