/**
 * Who is calling Graph and what they may do: the bearer token must be one the sandbox's Entra minted for Graph in
 * this tenant; reads need an Application/Directory read role, writes ReadWrite.All or ReadWrite.OwnedBy as an owner.
 */
import type { FastifyRequest } from 'fastify';
import { bearerToken, type AccessTokenClaims } from '../access-tokens.js';
import type { Application } from '../directory.js';
import { graphAppId, graphResource, type GraphContext } from './context.js';
import { GraphHttpError } from './errors.js';

const readRoles = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Application.ReadWrite.OwnedBy',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];

/** Validates the bearer token (audience Graph, this tenant) and returns its claims, or throws Graph's 401. */
export async function authenticate(ctx: GraphContext, req: FastifyRequest): Promise<AccessTokenClaims> {
  const result = await ctx.opts.tokens.verify(bearerToken(req.headers.authorization), [
    graphResource,
    graphAppId,
    ctx.opts.baseUrl(),
  ]);
  if ('error' in result) throw new GraphHttpError(401, 'InvalidAuthenticationToken', result.error);
  if (result.claims.tid !== ctx.directory.tenantId) {
    throw new GraphHttpError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
  }
  return result.claims;
}

/** Graph's 403 for a caller without the role or ownership an operation needs. */
export const denied = () =>
  new GraphHttpError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');

/** Throws 403 unless the caller holds a directory read role. */
export function requireRead(caller: AccessTokenClaims): void {
  if (!caller.roles?.some((r) => readRoles.includes(r))) throw denied();
}

/** Whether the caller may change `target`: ReadWrite.All, or ReadWrite.OwnedBy as one of its owners. */
export function canManage(target: Application, caller: AccessTokenClaims): boolean {
  const roles = caller.roles ?? [];
  if (roles.includes('Application.ReadWrite.All') || roles.includes('Directory.ReadWrite.All')) return true;
  return roles.includes('Application.ReadWrite.OwnedBy') && target.owners.includes(caller.oid);
}
