/**
 * `/v1.0/applications`: list (`$filter`, `$top`, `@odata.nextLink`), GET by object id or `(appId='…')` with `$select`/`$expand`, the
 * owners and federatedIdentityCredentials navigations, PATCH (the documented writable properties), addKey/removeKey
 * and addPassword/removePassword.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from '../access-tokens.js';
import type { Application } from '../directory.js';
import {
  applicationJson,
  applicationListItem,
  passwordCredentialJson,
  patchableProperties,
} from './application-json.js';
import { canManage, denied, requireRead } from './auth.js';
import { expandOf, listCollection, selectOf } from './collection.js';
import { odataContext, type GraphContext } from './context.js';
import { GraphHttpError } from './errors.js';
import { keyCredentialJson, newKeyCredential, replacedKeyCredentials } from './key-credentials.js';
import type { FilterSchema } from './odata-filter.js';
import { verifyProof } from './proofs.js';

interface ParsedPath {
  app?: Application;
  lookup?: string;
  action?: string;
  list?: boolean;
}

/** Resolves an applications path to the collection, or to one app (404 when unknown) and an optional segment. */
export function parseApplicationsPath(ctx: GraphContext, rawPath: string): ParsedPath {
  const path = decodeURIComponent(rawPath);
  if (path === '/v1.0/applications' || path === '/v1.0/applications/') return { list: true };
  const m = /^\/v1\.0\/applications(?:\/([^/()]+)|\(appId='([^']*)'\))(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) throw new GraphHttpError(400, 'Request_BadRequest', `Resource not found for the segment '${path}'.`);
  const lookup = m[1] ?? m[2] ?? '';
  const found = m[1] !== undefined ? ctx.directory.appById(m[1]) : ctx.directory.appByAppId(m[2] ?? '');
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

const pathOf = (req: FastifyRequest) => req.url.split('?')[0] ?? '';

/** How applications may be filtered (Graph v1.0 without advanced queries). */
export const applicationFilter: FilterSchema<Application> = {
  resource: 'Application',
  properties: {
    appId: { value: (a) => a.appId, startsWith: true },
    displayName: { value: (a) => a.displayName, startsWith: true },
    id: { value: (a) => a.id, startsWith: false },
  },
  keyIds: (a) => a.keyCredentials.map((k) => k.keyId),
};

/** GET on applications (the caller is authenticated). */
export function getApplications(ctx: GraphContext, req: FastifyRequest, caller: AccessTokenClaims): unknown {
  requireRead(caller);
  const select = selectOf(req);
  const expand = expandOf(req);
  const parsed = parseApplicationsPath(ctx, pathOf(req));
  if (parsed.list) {
    // `key` is only ever returned on a single-object GET.
    return listCollection(req, ctx.opts.baseUrl(), 'applications', ctx.directory.apps(), applicationFilter, (a) =>
      applicationListItem(ctx, a, select, expand),
    );
  }
  const target = parsed.app as Application;
  if (parsed.action === undefined) return applicationJson(ctx, target, select, expand);
  if (parsed.action === 'owners') {
    return {
      '@odata.context': odataContext('directoryObjects'),
      value: target.owners
        .map((sp) => ctx.directory.appByServicePrincipalId(sp))
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
      '@odata.context': odataContext(`applications('${target.id}')/federatedIdentityCredentials`),
      value: target.federatedIdentityCredentials,
    };
  }
  throw new GraphHttpError(400, 'Request_BadRequest', `Unsupported segment '${parsed.action}'.`);
}

/** PATCH on one application: displayName and keyCredentials (which replaces the collection). */
export function patchApplication(
  ctx: GraphContext,
  req: FastifyRequest,
  reply: FastifyReply,
  caller: AccessTokenClaims,
): unknown {
  const parsed = parseApplicationsPath(ctx, pathOf(req));
  if (!parsed.app || parsed.action !== undefined)
    throw new GraphHttpError(405, 'Request_BadRequest', 'PATCH is not supported here.');
  const target = parsed.app;
  if (!canManage(target, caller)) throw denied();
  ctx.budget.charge(caller);
  const body = (req.body ?? {}) as Record<string, unknown>;
  const properties = patchableProperties(body);
  // Everything is validated before anything changes, so a refused PATCH leaves the app as it was.
  const keys =
    body.keyCredentials !== undefined
      ? replacedKeyCredentials(ctx.directory, target.keyCredentials, body.keyCredentials)
      : undefined;
  if (typeof body.displayName === 'string') target.displayName = body.displayName;
  Object.assign(target.properties, properties);
  if (keys) ctx.directory.setKeyCredentials(target, keys);
  return reply.code(204).send();
}

/** POST of an application action: addKey and removeKey, each with a proof of possession. */
export async function postApplicationAction(
  ctx: GraphContext,
  req: FastifyRequest,
  reply: FastifyReply,
  caller: AccessTokenClaims,
): Promise<unknown> {
  const parsed = parseApplicationsPath(ctx, pathOf(req));
  const target = parsed.app;
  if (target && (parsed.action === 'addPassword' || parsed.action === 'removePassword')) {
    return passwordAction(ctx, req, reply, caller, target, parsed.action);
  }
  if (!target || (parsed.action !== 'addKey' && parsed.action !== 'removeKey')) {
    throw new GraphHttpError(400, 'Request_BadRequest', 'Unsupported POST.');
  }
  // An app may roll its own keys with no directory role; anyone else needs a role on it.
  if (caller.appid !== target.appId && !canManage(target, caller)) throw denied();
  ctx.budget.charge(caller);
  const body = (req.body ?? {}) as Record<string, unknown>;
  await verifyProof(target, body.proof, ctx.clock.now());
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
    const created = newKeyCredential(ctx.directory, kc);
    ctx.directory.setKeyCredentials(target, [...target.keyCredentials, created]);
    return reply
      .code(200)
      .send({ '@odata.context': odataContext('microsoft.graph.keyCredential'), ...keyCredentialJson(created, false) });
  }
  const keyId = typeof body.keyId === 'string' ? body.keyId.toLowerCase() : '';
  const remaining = target.keyCredentials.filter((k) => k.keyId.toLowerCase() !== keyId);
  if (remaining.length === target.keyCredentials.length) {
    throw new GraphHttpError(400, 'Request_BadRequest', `No credentials found to be removed. keyId: '${keyId}'.`);
  }
  ctx.directory.setKeyCredentials(target, remaining);
  return reply.code(204).send();
}

/**
 * addPassword / removePassword: a secret generated by the service (its text returned once, in this response),
 * removal by keyId. Unlike addKey they take no proof, and need ReadWrite.All or ReadWrite.OwnedBy as an owner.
 */
function passwordAction(
  ctx: GraphContext,
  req: FastifyRequest,
  reply: FastifyReply,
  caller: AccessTokenClaims,
  target: Application,
  action: 'addPassword' | 'removePassword',
): unknown {
  if (!canManage(target, caller)) throw denied();
  ctx.budget.charge(caller);
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (action === 'addPassword') {
    const requested = (body.passwordCredential ?? {}) as Record<string, unknown>;
    const now = ctx.clock.now();
    const startMs = typeof requested.startDateTime === 'string' ? Date.parse(requested.startDateTime) : now;
    // Graph's default lifetime for a secret added without an end date is two years.
    const endMs =
      typeof requested.endDateTime === 'string' ? Date.parse(requested.endDateTime) : startMs + 730 * 86_400_000;
    if (Number.isNaN(startMs) || Number.isNaN(endMs) || endMs <= startMs) {
      throw new GraphHttpError(400, 'Request_BadRequest', 'Password credential end date is invalid.');
    }
    const created = ctx.directory.addPasswordCredential(target, {
      displayName: typeof requested.displayName === 'string' ? requested.displayName : '',
      startMs,
      endMs,
    });
    return reply.code(200).send({
      '@odata.context': odataContext('microsoft.graph.passwordCredential'),
      ...passwordCredentialJson(created, true),
    });
  }
  const keyId = typeof body.keyId === 'string' ? body.keyId.toLowerCase() : '';
  const index = target.passwordCredentials.findIndex((p) => p.keyId.toLowerCase() === keyId);
  if (index < 0) {
    throw new GraphHttpError(400, 'Request_BadRequest', `No credentials found to be removed. keyId: '${keyId}'.`);
  }
  target.passwordCredentials.splice(index, 1);
  return reply.code(204).send();
}
