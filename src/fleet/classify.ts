/**
 * What discover says about each credential-bearing app: its kind (how certrotate would rotate it, if at all) and,
 * per credential, its expiry and whether it is due. Pure: the inputs are what the tenant reader read.
 */
import type {
  GraphKeyCredential,
  GraphPasswordCredential,
  TenantApplication,
  TenantApplicationUser,
  TenantServicePrincipal,
  TenantSite,
  VaultCertificateVersion,
} from './tenant-reader.js';

const DAY = 86_400_000;

/**
 * How an app's S2S credential is managed: `powerPages` (a Power Pages site's app; Power Pages holds the key),
 * `keyVault` (a certificate credential whose thumbprint is a version in a given vault), `federated` (federated
 * identity credentials and no certificate: the platform signs in, nothing to rotate), `unmanaged` (anything else).
 */
export type AppKind = 'powerPages' | 'keyVault' | 'federated' | 'unmanaged';

/** The order discover groups apps in. */
export const APP_KINDS: readonly AppKind[] = ['powerPages', 'keyVault', 'federated', 'unmanaged'];

/** One certificate or client secret. */
export interface DiscoveredCredential {
  kind: 'certificate' | 'secret';
  /** Whose credential it is: the application object or the service principal's own. */
  on: 'application' | 'servicePrincipal';
  keyId: string;
  displayName: string | null;
  /** Certificates: the thumbprint (customKeyIdentifier); null for secrets. */
  thumbprint: string | null;
  expiresOn: string;
  daysLeft: number;
  status: 'ok' | 'due' | 'expired';
  /** The vault version holding this certificate, when one of the given vaults does. */
  vault?: { url: string; certificate: string; version: string };
}

/** One app as discover reports it. */
export interface DiscoveredApp {
  appId: string;
  objectId: string;
  displayName: string;
  kind: AppKind;
  owners: string[];
  credentials: DiscoveredCredential[];
  federatedCredentials: { name: string; issuer: string; subject: string }[];
  /** powerPages: the site it serves. */
  site?: { websiteId: string; name: string; environmentId: string; siteUrl?: string; dataverseUrl?: string };
  /** With `--environment`: the Dataverse application user (systemuserid) for the app, null when it has none. */
  applicationUser?: string | null;
  /** With `--environment`, when the app has an application user: its name, disabled flag and business unit. */
  applicationUserDetail?: ApplicationUserDetail;
  /** The most urgent of its credentials' statuses; `ok` when it has none due. */
  status: 'ok' | 'due' | 'expired';
}

/** The application user as discover reports it (`businessUnit`: its name when Dataverse gave one, else its id). */
export interface ApplicationUserDetail {
  name: string;
  disabled: boolean;
  businessUnit: string | null;
}

/** What classification needs besides the apps. */
export interface ClassifyInput {
  now: number;
  rotateBeforeMs: number;
  servicePrincipals: TenantServicePrincipal[];
  sites: TenantSite[];
  vaultVersions: VaultCertificateVersion[];
  /** By app id (lowercase): the user, or its systemuserid alone when nothing else was read. */
  applicationUsers?: Map<string, string | TenantApplicationUser>;
}

/** The systemuserid and details of an app's application user, from what the reader gave. */
function applicationUserOf(
  users: Map<string, string | TenantApplicationUser>,
  appId: string,
): Pick<DiscoveredApp, 'applicationUser' | 'applicationUserDetail'> {
  const u = users.get(appId.toLowerCase());
  if (u === undefined) return { applicationUser: null };
  if (typeof u === 'string') return { applicationUser: u };
  return {
    applicationUser: u.systemUserId,
    applicationUserDetail: { name: u.name, disabled: u.disabled, businessUnit: u.businessUnitName ?? u.businessUnitId },
  };
}

/** A credential's days left (whole days, rounded down) and status against `rotateBeforeMs`. */
export function credentialStatus(
  endDateTime: string,
  now: number,
  rotateBeforeMs: number,
): { daysLeft: number; status: DiscoveredCredential['status'] } {
  const end = Date.parse(endDateTime);
  const left = end - now;
  return {
    daysLeft: Math.floor(left / DAY),
    status: left <= 0 ? 'expired' : left <= rotateBeforeMs ? 'due' : 'ok',
  };
}

const normalThumbprint = (t: string | null | undefined) => (t ? t.replace(/[^0-9a-f]/gi, '').toUpperCase() : null);

function certificate(
  k: GraphKeyCredential,
  on: DiscoveredCredential['on'],
  input: ClassifyInput,
  byThumbprint: Map<string, VaultCertificateVersion>,
): DiscoveredCredential {
  const thumbprint = normalThumbprint(k.customKeyIdentifier);
  const version = thumbprint ? byThumbprint.get(thumbprint) : undefined;
  return {
    kind: 'certificate',
    on,
    keyId: k.keyId,
    displayName: k.displayName ?? null,
    thumbprint,
    expiresOn: k.endDateTime,
    ...credentialStatus(k.endDateTime, input.now, input.rotateBeforeMs),
    ...(version
      ? { vault: { url: version.vaultUrl, certificate: version.certificate, version: version.version } }
      : {}),
  };
}

function secret(
  p: GraphPasswordCredential,
  on: DiscoveredCredential['on'],
  input: ClassifyInput,
): DiscoveredCredential {
  return {
    kind: 'secret',
    on,
    keyId: p.keyId,
    displayName: p.displayName ?? null,
    thumbprint: null,
    expiresOn: p.endDateTime,
    ...credentialStatus(p.endDateTime, input.now, input.rotateBeforeMs),
  };
}

const worst = (statuses: DiscoveredCredential['status'][]): DiscoveredApp['status'] =>
  statuses.includes('expired') ? 'expired' : statuses.includes('due') ? 'due' : 'ok';

/**
 * Classifies every app that bears a credential (a certificate, a secret or a federated credential, on the app or its
 * service principal); apps with none are left out. Sorted by kind, then name.
 */
export function classifyApps(apps: TenantApplication[], input: ClassifyInput): DiscoveredApp[] {
  const byThumbprint = new Map(input.vaultVersions.map((v) => [v.thumbprint.toUpperCase(), v]));
  const spByAppId = new Map(input.servicePrincipals.map((sp) => [sp.appId.toLowerCase(), sp]));
  const siteByAppId = new Map(input.sites.map((s) => [s.appId.toLowerCase(), s]));
  const out: DiscoveredApp[] = [];
  for (const app of apps) {
    const sp = spByAppId.get(app.appId.toLowerCase());
    const credentials = [
      ...app.keyCredentials.map((k) => certificate(k, 'application', input, byThumbprint)),
      ...app.passwordCredentials.map((p) => secret(p, 'application', input)),
      ...(sp?.keyCredentials ?? []).map((k) => certificate(k, 'servicePrincipal', input, byThumbprint)),
      ...(sp?.passwordCredentials ?? []).map((p) => secret(p, 'servicePrincipal', input)),
    ];
    if (credentials.length === 0 && app.federatedIdentityCredentials.length === 0) continue;
    const site = siteByAppId.get(app.appId.toLowerCase());
    const kind: AppKind = site
      ? 'powerPages'
      : credentials.some((c) => c.vault)
        ? 'keyVault'
        : app.federatedIdentityCredentials.length > 0 && !credentials.some((c) => c.kind === 'certificate')
          ? 'federated'
          : 'unmanaged';
    out.push({
      appId: app.appId,
      objectId: app.id,
      displayName: app.displayName,
      kind,
      owners: app.owners,
      credentials,
      federatedCredentials: app.federatedIdentityCredentials,
      ...(site
        ? {
            site: {
              websiteId: site.websiteId,
              name: site.name,
              environmentId: site.environmentId,
              ...(site.siteUrl ? { siteUrl: site.siteUrl } : {}),
              ...(site.dataverseUrl ? { dataverseUrl: site.dataverseUrl } : {}),
            },
          }
        : {}),
      ...(input.applicationUsers ? applicationUserOf(input.applicationUsers, app.appId) : {}),
      status: worst(credentials.map((c) => c.status)),
    });
  }
  return out.sort(
    (a, b) => APP_KINDS.indexOf(a.kind) - APP_KINDS.indexOf(b.kind) || a.displayName.localeCompare(b.displayName),
  );
}

/** The counts of the discover document. */
export interface DiscoveryCounts {
  apps: number;
  byKind: Record<AppKind, number>;
  certificates: number;
  secrets: number;
  due: number;
  expired: number;
  /** Client secrets that are due or expired (certrotate does not rotate secrets). */
  secretsDueOrExpired: number;
}

/** Counts apps by kind and credentials by kind and status. */
export function countApps(apps: DiscoveredApp[]): DiscoveryCounts {
  const byKind = Object.fromEntries(APP_KINDS.map((k) => [k, 0])) as Record<AppKind, number>;
  const counts: DiscoveryCounts = {
    apps: apps.length,
    byKind,
    certificates: 0,
    secrets: 0,
    due: 0,
    expired: 0,
    secretsDueOrExpired: 0,
  };
  for (const app of apps) {
    byKind[app.kind]++;
    for (const c of app.credentials) {
      if (c.kind === 'certificate') counts.certificates++;
      else counts.secrets++;
      if (c.status === 'due') counts.due++;
      if (c.status === 'expired') counts.expired++;
      if (c.kind === 'secret' && c.status !== 'ok') counts.secretsDueOrExpired++;
    }
  }
  return counts;
}
