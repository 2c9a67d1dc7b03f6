/**
 * The `application` resource as Graph v1.0 serialises it (the properties of resources/application.md with the
 * values a new single-tenant registration has), `$select` picking properties (and bringing the certificate `key`
 * back on a single GET), `$expand=federatedIdentityCredentials` and `$expand=owners` adding those navigation properties.
 */
import type { Application, PasswordCredential } from '../directory.js';
import { graphDate, odataContext, type GraphContext } from './context.js';
import { GraphHttpError } from './errors.js';
import { keyCredentialJson } from './key-credentials.js';

/** The domain the sandbox's tenant publishes apps under (`publisherDomain`). */
export const publisherDomain = 'certrotate-sandbox.onmicrosoft.com';

/**
 * Documented properties an admin may PATCH, with the value a new registration has. `keyCredentials` and
 * `displayName` are stored on the app itself; `passwordCredentials` only change through addPassword/removePassword.
 */
export const writableDefaults: Record<string, () => unknown> = {
  api: () => ({
    acceptMappedClaims: null,
    knownClientApplications: [],
    requestedAccessTokenVersion: null,
    oauth2PermissionScopes: [],
    preAuthorizedApplications: [],
  }),
  appRoles: () => [],
  defaultRedirectUri: () => null,
  description: () => null,
  groupMembershipClaims: () => null,
  identifierUris: () => [],
  info: () => ({
    logoUrl: null,
    marketingUrl: null,
    privacyStatementUrl: null,
    supportUrl: null,
    termsOfServiceUrl: null,
  }),
  isDeviceOnlyAuthSupported: () => null,
  isFallbackPublicClient: () => null,
  notes: () => null,
  optionalClaims: () => null,
  parentalControlSettings: () => ({ countriesBlockedForMinors: [], legalAgeGroupRule: 'Allow' }),
  publicClient: () => ({ redirectUris: [] }),
  requiredResourceAccess: () => [],
  samlMetadataUrl: () => null,
  serviceManagementReference: () => null,
  signInAudience: () => 'AzureADMyOrg',
  spa: () => ({ redirectUris: [] }),
  tags: () => [],
  tokenEncryptionKeyId: () => null,
  web: () => ({
    homePageUrl: null,
    logoutUrl: null,
    redirectUris: [],
    implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
    redirectUriSettings: [],
  }),
};

/** Documented properties the service sets; a PATCH naming one is refused. */
const readOnly = [
  'id',
  'appId',
  'applicationTemplateId',
  'createdDateTime',
  'deletedDateTime',
  'disabledByMicrosoftStatus',
  'publisherDomain',
  'uniqueName',
  'verifiedPublisher',
  'certification',
  'addIns',
  'requestSignatureVerification',
  'servicePrincipalLockConfiguration',
  'nativeAuthenticationApisEnabled',
];

/** A passwordCredential as Graph returns it on reads: `secretText` never, a three-character `hint`. */
export function passwordCredentialJson(p: PasswordCredential, withSecret = false) {
  return {
    customKeyIdentifier: null,
    displayName: p.displayName,
    endDateTime: graphDate(p.endMs),
    hint: p.secretText.slice(0, 3),
    keyId: p.keyId,
    secretText: withSecret ? p.secretText : null,
    startDateTime: graphDate(p.startMs),
  };
}

/** Checks a PATCH body against the resource's documented properties; returns the stored ones to merge. */
export function patchableProperties(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [prop, value] of Object.entries(body)) {
    if (prop === 'passwordCredentials') {
      throw new GraphHttpError(
        400,
        'Request_BadRequest',
        'New password credentials must be generated using service actions.',
      );
    }
    if (prop === 'keyCredentials' || prop === 'displayName') continue;
    if (readOnly.includes(prop)) {
      throw new GraphHttpError(400, 'Request_BadRequest', `Property '${prop}' is read-only and cannot be set.`);
    }
    if (!(prop in writableDefaults)) {
      throw new GraphHttpError(
        400,
        'Request_BadRequest',
        `Property '${prop}' does not exist on type 'microsoft.graph.application'.`,
      );
    }
    out[prop] = value;
  }
  return out;
}

/** One application as JSON, with `@odata.context` of a single entity. */
export function applicationJson(
  ctx: GraphContext,
  target: Application,
  select: string[] | undefined,
  expand: string[],
): Record<string, unknown> {
  const withKey = select !== undefined;
  const keys = ctx.directory.keyCredentialsAsSeen(target, (ctx.opts.readLagSeconds ?? 0) * 1000);
  const stored = (prop: string) => (prop in target.properties ? target.properties[prop] : writableDefaults[prop]?.());
  const full: Record<string, unknown> = {
    id: target.id,
    deletedDateTime: null,
    appId: target.appId,
    applicationTemplateId: null,
    disabledByMicrosoftStatus: null,
    createdDateTime: target.createdDateTime,
    displayName: target.displayName,
    description: stored('description'),
    groupMembershipClaims: stored('groupMembershipClaims'),
    identifierUris: stored('identifierUris'),
    isDeviceOnlyAuthSupported: stored('isDeviceOnlyAuthSupported'),
    isFallbackPublicClient: stored('isFallbackPublicClient'),
    nativeAuthenticationApisEnabled: null,
    notes: stored('notes'),
    publisherDomain,
    serviceManagementReference: stored('serviceManagementReference'),
    signInAudience: stored('signInAudience'),
    tags: stored('tags'),
    tokenEncryptionKeyId: stored('tokenEncryptionKeyId'),
    uniqueName: null,
    samlMetadataUrl: stored('samlMetadataUrl'),
    defaultRedirectUri: stored('defaultRedirectUri'),
    certification: null,
    optionalClaims: stored('optionalClaims'),
    requestSignatureVerification: null,
    servicePrincipalLockConfiguration: null,
    addIns: [],
    api: stored('api'),
    appRoles: stored('appRoles'),
    info: stored('info'),
    keyCredentials: keys.map((k) => keyCredentialJson(k, withKey)),
    parentalControlSettings: stored('parentalControlSettings'),
    passwordCredentials: target.passwordCredentials.map((p) => passwordCredentialJson(p)),
    publicClient: stored('publicClient'),
    requiredResourceAccess: stored('requiredResourceAccess'),
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
    web: stored('web'),
    spa: stored('spa'),
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
  // `$expand=owners`: the owning service principals as directoryObjects (id, appId, displayName), as discover reads them.
  if (expand.includes('owners')) {
    out.owners = target.owners
      .map((sp) => ctx.directory.appByServicePrincipalId(sp))
      .filter((a) => a !== undefined)
      .map((a) => ({
        '@odata.type': '#microsoft.graph.servicePrincipal',
        id: a.servicePrincipalId,
        appId: a.appId,
        displayName: a.displayName,
      }));
  }
  const entity = select ? `applications(${select.join(',')})/$entity` : 'applications/$entity';
  return { '@odata.context': odataContext(entity), ...out };
}

/** An application as a member of a collection: no `@odata.context`, and `key` never returned in a list. */
export function applicationListItem(
  ctx: GraphContext,
  target: Application,
  select: string[] | undefined,
  expand: string[],
): Record<string, unknown> {
  const j = applicationJson(ctx, target, select, expand);
  delete j['@odata.context'];
  if (Array.isArray(j.keyCredentials)) {
    j.keyCredentials = (j.keyCredentials as Record<string, unknown>[]).map((k) => ({ ...k, key: null }));
  }
  return j;
}
