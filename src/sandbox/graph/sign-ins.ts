/**
 * Entra's service-principal sign-in log as Graph beta serves it: `GET /beta/auditLogs/signIns` with the `$filter`
 * clauses Microsoft documents for service-principal sign-ins — `signInEventTypes/any(t: t eq 'servicePrincipal')`,
 * `appId eq '…'` and `createdDateTime ge|le …` joined by `and` — `$orderby=createdDateTime [asc|desc]`, `$top` and
 * `@odata.nextLink` paging. The entries are the certificate sign-ins the sandbox's Entra recorded (history `token`
 * events: the app, the thumbprint, the resource, the time), with `servicePrincipalCredentialKeyId` and
 * `servicePrincipalCredentialThumbprint` as the beta signIn resource documents them. Reading needs AuditLog.Read.All
 * (Directory.Read.All also reads audit logs, as Microsoft documents); without it Graph answers 403. v1.0's list is
 * documented for interactive user sign-ins, so the sandbox serves this under beta only.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from '../access-tokens.js';
import type { History } from '../history.js';
import { denied } from './auth.js';
import type { GraphContext } from './context.js';
import { graphResource } from './context.js';
import { GraphHttpError } from './errors.js';

/** Roles that may read the sign-in log. */
const AUDIT_READERS = ['AuditLog.Read.All', 'Directory.Read.All'];

/** One clause of the supported `$filter` grammar. */
type Clause =
  | { kind: 'servicePrincipal' }
  | { kind: 'appId'; value: string }
  | { kind: 'createdDateTime'; op: 'ge' | 'le'; ms: number };

function unsupported(filter: string): GraphHttpError {
  return new GraphHttpError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause: ${filter}`);
}

/** Parses the documented service-principal sign-in filters; anything else is Graph's 400. */
export function parseSignInFilter(filter: string): Clause[] {
  const clauses: Clause[] = [];
  for (const raw of filter.split(/\s+and\s+/i)) {
    const part = raw
      .trim()
      .replace(/^\((.*)\)$/, '$1')
      .trim();
    if (/^signInEventTypes\/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'servicePrincipal'\s*\)$/i.test(part)) {
      clauses.push({ kind: 'servicePrincipal' });
      continue;
    }
    const app = /^appId\s+eq\s+'([^']*)'$/i.exec(part);
    if (app) {
      clauses.push({ kind: 'appId', value: app[1]!.toLowerCase() });
      continue;
    }
    const time = /^createdDateTime\s+(ge|le)\s+(\S+)$/i.exec(part);
    if (time && !Number.isNaN(Date.parse(time[2]!))) {
      clauses.push({ kind: 'createdDateTime', op: time[1]!.toLowerCase() as 'ge' | 'le', ms: Date.parse(time[2]!) });
      continue;
    }
    throw unsupported(filter);
  }
  return clauses;
}

/** A stable id for one logged sign-in (Graph's are GUIDs). */
function signInId(time: string, appId: string, thumbprint: string, index: number): string {
  const h = createHash('sha256').update(`${time}|${appId}|${thumbprint}|${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** `GET /beta/auditLogs/signIns`. */
export function getSignIns(ctx: GraphContext, history: History, req: FastifyRequest, caller: AccessTokenClaims) {
  if (!caller.roles?.some((r) => AUDIT_READERS.includes(r))) throw denied();
  const query = req.query as Record<string, string | undefined>;
  const clauses = query.$filter ? parseSignInFilter(query.$filter) : [];
  // Without the servicePrincipal clause Graph lists interactive user sign-ins, of which the sandbox has none.
  const servicePrincipal = clauses.some((c) => c.kind === 'servicePrincipal');
  const order = (query.$orderby ?? 'createdDateTime desc').trim().toLowerCase();
  if (!/^createddatetime(\s+(asc|desc))?$/.test(order)) throw unsupported(query.$orderby ?? '');
  const top = query.$top === undefined ? 1000 : Number(query.$top);
  if (!Number.isInteger(top) || top < 1 || top > 1000) {
    throw new GraphHttpError(400, 'Request_UnsupportedQuery', `Invalid page size specified: '${query.$top}'.`);
  }
  const skip = query.$skiptoken === undefined ? 0 : Number.parseInt(query.$skiptoken, 36);
  if (!Number.isInteger(skip) || skip < 0) throw unsupported(`$skiptoken=${query.$skiptoken ?? ''}`);

  const entries = servicePrincipal
    ? history
        .events()
        .flatMap((e, index) => (e.kind === 'token' ? [{ e, index }] : []))
        .filter(({ e }) =>
          clauses.every((c) =>
            c.kind === 'appId'
              ? e.appId.toLowerCase() === c.value
              : c.kind === 'createdDateTime'
                ? c.op === 'ge'
                  ? Date.parse(e.time) >= c.ms
                  : Date.parse(e.time) <= c.ms
                : true,
          ),
        )
    : [];
  // History is in time order already: oldest first, as OData's default ascending order has it.
  if (order.endsWith('desc')) entries.reverse();
  const page = entries.slice(skip, skip + top).map(({ e, index }) => {
    const app = ctx.directory.appByAppId(e.appId);
    // The keyId is the credential's while it is on the app; a key removed since is known by its thumbprint only.
    const key = app?.keyCredentials.find((k) => k.thumbprint === e.thumbprint);
    return {
      id: signInId(e.time, e.appId, e.thumbprint, index),
      createdDateTime: e.time.replace(/\.\d{3}Z$/, 'Z'),
      appId: e.appId,
      appDisplayName: app?.displayName ?? null,
      servicePrincipalId: app?.servicePrincipalId ?? null,
      servicePrincipalName: app?.displayName ?? null,
      resourceId: e.resource,
      resourceDisplayName: e.resource,
      clientCredentialType: 'certificate',
      servicePrincipalCredentialKeyId: key?.keyId ?? null,
      servicePrincipalCredentialThumbprint: e.thumbprint,
      signInEventTypes: ['servicePrincipal'],
      isInteractive: false,
      status: { errorCode: 0, failureReason: null, additionalDetails: null },
    };
  });
  const body: Record<string, unknown> = {
    '@odata.context': `${graphResource}/beta/$metadata#auditLogs/signIns`,
    value: page,
  };
  if (skip + top < entries.length) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (k !== '$skiptoken' && typeof v === 'string') params.set(k, v);
    params.set('$skiptoken', (skip + top).toString(36));
    body['@odata.nextLink'] = `${ctx.opts.baseUrl()}/beta/auditLogs/signIns?${params.toString()}`;
  }
  return body;
}
