/**
 * `/v1.0/servicePrincipals`: each app registration's service principal (one per app in this single tenant), listed
 * (`$filter`, `$top`, `@odata.nextLink`) and read by object id or `(appId='…')`. An app registration's certificates
 * live on the application object; its service principal's own keyCredentials and passwordCredentials are empty,
 * as they are in Azure for a registration made in the portal (resources/serviceprincipal.md), unless it was given
 * credentials of its own (`servicePrincipalCredentials`).
 */
import type { FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from '../access-tokens.js';
import type { Application } from '../directory.js';
import { requireRead } from './auth.js';
import { listCollection, selectOf } from './collection.js';
import { odataContext, type GraphContext } from './context.js';
import { GraphHttpError } from './errors.js';
import { passwordCredentialJson } from './application-json.js';
import { keyCredentialJson } from './key-credentials.js';
import type { FilterSchema } from './odata-filter.js';

/** How service principals may be filtered (Graph v1.0 without advanced queries). */
export const servicePrincipalFilter: FilterSchema<Application> = {
  resource: 'ServicePrincipal',
  properties: {
    appId: { value: (a) => a.appId, startsWith: true },
    displayName: { value: (a) => a.displayName, startsWith: true },
    id: { value: (a) => a.servicePrincipalId, startsWith: false },
    servicePrincipalType: { value: () => 'Application', startsWith: true },
  },
  // The service principal's own key credentials (a registration's service principal usually has none).
  keyIds: (a) => (a.servicePrincipalCredentials?.keyCredentials ?? []).map((k) => k.keyId),
};

/** The servicePrincipal resource of an app registration. */
export function servicePrincipalJson(ctx: GraphContext, app: Application): Record<string, unknown> {
  return {
    id: app.servicePrincipalId,
    deletedDateTime: null,
    accountEnabled: true,
    alternativeNames: [],
    appDisplayName: app.displayName,
    appDescription: null,
    appId: app.appId,
    applicationTemplateId: null,
    appOwnerOrganizationId: ctx.directory.tenantId,
    appRoleAssignmentRequired: false,
    createdDateTime: app.createdDateTime,
    description: null,
    disabledByMicrosoftStatus: null,
    displayName: app.displayName,
    homepage: null,
    loginUrl: null,
    logoutUrl: null,
    notes: null,
    notificationEmailAddresses: [],
    preferredSingleSignOnMode: null,
    preferredTokenSigningKeyThumbprint: null,
    replyUrls: [],
    servicePrincipalNames: [app.appId],
    servicePrincipalType: 'Application',
    signInAudience: 'AzureADMyOrg',
    tags: [],
    tokenEncryptionKeyId: null,
    samlSingleSignOnSettings: null,
    addIns: [],
    appRoles: [],
    info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
    keyCredentials: (app.servicePrincipalCredentials?.keyCredentials ?? []).map((k) => keyCredentialJson(k, false)),
    oauth2PermissionScopes: [],
    passwordCredentials: (app.servicePrincipalCredentials?.passwordCredentials ?? []).map((p) =>
      passwordCredentialJson(p),
    ),
    resourceSpecificApplicationPermissions: [],
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
  };
}

const selected = (full: Record<string, unknown>, select: string[] | undefined) =>
  select ? Object.fromEntries(select.filter((s) => s in full).map((s) => [s, full[s]])) : full;

/** GET on servicePrincipals (the caller is authenticated). */
export function getServicePrincipals(ctx: GraphContext, req: FastifyRequest, caller: AccessTokenClaims): unknown {
  requireRead(caller);
  const select = selectOf(req);
  const path = decodeURIComponent(req.url.split('?')[0] ?? '');
  if (path === '/v1.0/servicePrincipals' || path === '/v1.0/servicePrincipals/') {
    return listCollection(
      req,
      ctx.opts.baseUrl(),
      'servicePrincipals',
      ctx.directory.apps(),
      servicePrincipalFilter,
      (a) => selected(servicePrincipalJson(ctx, a), select),
    );
  }
  const m = /^\/v1\.0\/servicePrincipals(?:\/([^/()]+)|\(appId='([^']*)'\))\/?$/.exec(path);
  if (!m) throw new GraphHttpError(400, 'Request_BadRequest', `Resource not found for the segment '${path}'.`);
  const lookup = m[1] ?? m[2] ?? '';
  const found =
    m[1] !== undefined
      ? ctx.directory.appByServicePrincipalId(m[1].toLowerCase())
      : ctx.directory.appByAppId(m[2] ?? '');
  if (!found) {
    throw new GraphHttpError(
      404,
      'Request_ResourceNotFound',
      `Resource '${lookup}' does not exist or one of its queried reference-property objects are not present.`,
    );
  }
  const entity = select ? `servicePrincipals(${select.join(',')})/$entity` : 'servicePrincipals/$entity';
  return { '@odata.context': odataContext(entity), ...selected(servicePrincipalJson(ctx, found), select) };
}
