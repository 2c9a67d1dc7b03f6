/**
 * `/v1.0/applications`: list (filter by appId), GET by object id or `(appId='…')` with `$select`/`$expand`, the
 * owners and federatedIdentityCredentials navigations, PATCH (displayName, keyCredentials), addKey and removeKey.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from '../access-tokens.js';
import type { Application } from '../directory.js';
import { applicationJson, applicationListItem } from './application-json.js';
import { canManage, denied, requireRead } from './auth.js';
import { odataContext, type GraphContext } from './context.js';
import { GraphHttpError } from './errors.js';
import { keyCredentialJson, newKeyCredential, replacedKeyCredentials } from './key-credentials.js';
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

/** GET on applications (the caller is authenticated). */
export function getApplications(ctx: GraphContext, req: FastifyRequest, caller: AccessTokenClaims): unknown {
  requireRead(caller);
  const query = req.query as Record<string, string | undefined>;
  const select = query.$select
    ? query.$select
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
  const expand = query.$expand ? query.$expand.split(',').map((s) => s.trim()) : [];
  const parsed = parseApplicationsPath(ctx, pathOf(req));
  if (parsed.list) {
    const m = /^appId eq '([^']*)'$/.exec(query.$filter ?? '');
    const apps = query.$filter
      ? m
        ? [ctx.directory.appByAppId(m[1] ?? '')].filter((a) => a !== undefined)
        : []
      : ctx.directory.apps();
    if (query.$filter && !m) throw new GraphHttpError(400, 'Request_UnsupportedQuery', 'Unsupported query.');
    return {
      '@odata.context': odataContext('applications'),
      // `key` is only ever returned on a single-object GET.
      value: apps.map((a) => applicationListItem(ctx, a, select, expand)),
    };
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
    ctx.directory.setKeyCredentials(
      target,
      replacedKeyCredentials(ctx.directory, target.keyCredentials, body.keyCredentials),
    );
  }
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
