/**
 * The port `discover` and `init` read a tenant through (read-only, I6): Graph's applications and service principals,
 * the Power Platform API's environments and websites, the certificate versions of the vaults the operator names, and
 * Dataverse's application users. The Azure implementation is src/adapters/azure/tenant-reader.ts; tests use fakes.
 */

/** A keyCredential as Graph lists it (no `key` in a list). */
export interface GraphKeyCredential {
  keyId: string;
  displayName?: string | null;
  /** The certificate's SHA-1 thumbprint (hex) unless the writer set something else: treated as opaque. */
  customKeyIdentifier?: string | null;
  startDateTime?: string | null;
  endDateTime: string;
  type?: string;
  usage?: string;
}

/** A passwordCredential (client secret) as Graph lists it: never its text. */
export interface GraphPasswordCredential {
  keyId: string;
  displayName?: string | null;
  startDateTime?: string | null;
  endDateTime: string;
}

/** An app registration with what discover needs of it. */
export interface TenantApplication {
  id: string;
  appId: string;
  displayName: string;
  keyCredentials: GraphKeyCredential[];
  passwordCredentials: GraphPasswordCredential[];
  federatedIdentityCredentials: { name: string; issuer: string; subject: string }[];
  /** Owners' display names (or ids when unnamed). */
  owners: string[];
}

/** A service principal's own credentials (most have none: a registration's keys live on its application). */
export interface TenantServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  keyCredentials: GraphKeyCredential[];
  passwordCredentials: GraphPasswordCredential[];
}

/** A Power Pages website and the environment it belongs to. */
export interface TenantSite {
  websiteId: string;
  name: string;
  environmentId: string;
  environmentName?: string;
  /** The site's Entra app (applicationUserAadAppId). */
  appId: string;
  siteUrl?: string;
  dataverseUrl?: string;
}

/** One certificate version in a vault. */
export interface VaultCertificateVersion {
  vaultUrl: string;
  certificate: string;
  version: string;
  /** SHA-1 thumbprint, uppercase hex. */
  thumbprint: string;
}

/** An app's Dataverse application user in one environment. */
export interface TenantApplicationUser {
  systemUserId: string;
  /** `fullname`. */
  name: string;
  disabled: boolean;
  businessUnitId: string | null;
  /** The business unit's name when Dataverse gives it (formatted value), else null. */
  businessUnitName: string | null;
}

/** Something read with a reason it could not be read in full: discover reports the note and carries on. */
export interface WithNote<T> {
  value: T;
  note?: string;
}

/** Read-only access to one tenant. */
export interface TenantReader {
  /** Every application, paged to the end. */
  applications(): Promise<TenantApplication[]>;
  /** Every service principal that has credentials of its own. */
  servicePrincipalsWithCredentials(): Promise<TenantServicePrincipal[]>;
  /** The Power Pages sites of `environmentId`, or of every environment the Power Platform API lists. */
  sites(environmentId?: string): Promise<WithNote<TenantSite[]>>;
  /** Every certificate version of one vault (versions of several certificates read at once, order kept). */
  vaultVersions(vaultUrl: string): Promise<VaultCertificateVersion[]>;
  /**
   * The Dataverse application users of `appIds` in the environment, by app id (lowercase). A note (and an empty
   * map) when they could not be read, e.g. "could not read systemusers: grant …".
   */
  applicationUsers(
    environmentId: string,
    appIds: readonly string[],
  ): Promise<WithNote<Map<string, TenantApplicationUser>>>;
}
