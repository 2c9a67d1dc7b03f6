/**
 * Dataverse: `GET /api/data/v9.2/WhoAmI`. It validates the bearer token for the org's audience and maps the
 * calling app to its application user; an app with no application user gets Dataverse's 403.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, type AccessTokenIssuer } from './access-tokens.js';
import { answerQuery } from './dataverse/query.js';
import { createTables, type DataverseTables } from './dataverse/tables.js';
import type { Directory } from './directory.js';

/** A Dataverse organisation (environment) and its application users, keyed by app id. */
export interface DataverseOrg {
  organizationId: string;
  businessUnitId: string;
  /** appId (lowercase) → systemuserid of its application user. */
  applicationUsers: Map<string, string>;
  /** appId (lowercase) → the app's display name, which names its application user (`# <name>`). */
  appNames: Map<string, string>;
  /** The tables the identity audit reads (systemusers, roles, workflows, the site's Liquid…). */
  tables: DataverseTables;
}

export function createDataverseOrg(): DataverseOrg {
  return {
    organizationId: randomUUID(),
    businessUnitId: randomUUID(),
    applicationUsers: new Map(),
    appNames: new Map(),
    tables: createTables(),
  };
}

/** Adds an application user for an app (what an admin does under Environment → S2S apps). */
export function addApplicationUser(org: DataverseOrg, appId: string, displayName?: string): string {
  const existing = org.applicationUsers.get(appId.toLowerCase());
  if (existing) return existing;
  const userId = randomUUID();
  org.applicationUsers.set(appId.toLowerCase(), userId);
  if (displayName) org.appNames.set(appId.toLowerCase(), displayName);
  return userId;
}

export interface DataverseOptions {
  org: DataverseOrg;
  directory: Directory;
  tokens: AccessTokenIssuer;
  authorityBaseUrl(): string;
  /** The org URL (`https://127.0.0.1:PORT`), the audience its tokens must carry. */
  baseUrl(): string;
}

const dataverseError = (code: string, message: string) => ({ error: { code, message } });

export function registerDataverse(app: FastifyInstance, opts: DataverseOptions): void {
  /** The caller's application user id, or undefined after answering 401/403 as Dataverse does. */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> => {
    const result = await opts.tokens.verify(bearerToken(req.headers.authorization), [opts.baseUrl()]);
    if ('error' in result || result.claims.tid !== opts.directory.tenantId) {
      reply.header(
        'www-authenticate',
        `Bearer authorization_uri=${opts.authorityBaseUrl()}/${opts.directory.tenantId}/oauth2/authorize, resource_id=${opts.baseUrl()}/`,
      );
      await reply.code(401).send(dataverseError('0x80072544', 'error' in result ? result.error : 'Invalid tenant.'));
      return undefined;
    }
    const userId = opts.org.applicationUsers.get(result.claims.appid.toLowerCase());
    if (!userId) {
      await reply.code(403).send(dataverseError('0x80072560', 'The user is not a member of the organization.'));
      return undefined;
    }
    return userId;
  };

  app.get('/api/data/v9.2/*', async (req, reply) => {
    const userId = await authenticate(req, reply);
    if (!userId) return reply;
    const url = new URL(req.url, opts.baseUrl());
    const path = decodeURIComponent(url.pathname.slice('/api/data/v9.2/'.length));
    const prefer = [req.headers.prefer ?? []].flat().join(',');
    const answer = answerQuery(opts.org.tables, { userId }, opts.baseUrl(), path, url.searchParams, prefer);
    return reply
      .code(answer.status)
      .headers({ 'odata-version': '4.0', ...answer.headers })
      .type(answer.status === 200 ? 'application/json; odata.metadata=minimal' : 'application/json')
      .send(answer.body);
  });

  app.get('/api/data/v9.2/WhoAmI', async (req, reply) => {
    const userId = await authenticate(req, reply);
    if (!userId) return reply;
    return {
      '@odata.context': `${opts.baseUrl()}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: opts.org.businessUnitId,
      UserId: userId,
      OrganizationId: opts.org.organizationId,
    };
  });
}
