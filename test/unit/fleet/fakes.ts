/** An in-memory tenant behind the {@link TenantReader} port, for discover's and init's unit tests. */
import type {
  TenantApplication,
  TenantApplicationUser,
  TenantReader,
  TenantServicePrincipal,
  TenantSite,
  VaultCertificateVersion,
  WithNote,
} from '../../../src/fleet/tenant-reader.js';

export const NOW = Date.parse('2026-06-01T00:00:00Z');
export const DAY = 86_400_000;
export const inDays = (d: number) => new Date(NOW + d * DAY).toISOString();

let n = 0;
const guid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

/** An app with the given credentials. */
export function app(displayName: string, o: Partial<TenantApplication> = {}): TenantApplication {
  return {
    id: guid(),
    appId: guid(),
    displayName,
    keyCredentials: [],
    passwordCredentials: [],
    federatedIdentityCredentials: [],
    owners: [],
    ...o,
  };
}

export const cert = (thumbprint: string, days: number) => ({
  keyId: guid(),
  customKeyIdentifier: thumbprint,
  endDateTime: inDays(days),
  displayName: `CN=${thumbprint.slice(0, 4)}`,
});
export const secret = (days: number) => ({ keyId: guid(), endDateTime: inDays(days), displayName: 'secret' });

/** A fake tenant: what it holds, and which reads were made. */
export function fakeTenant(t: {
  apps: TenantApplication[];
  servicePrincipals?: TenantServicePrincipal[];
  sites?: TenantSite[];
  sitesNote?: string;
  vaults?: Record<string, VaultCertificateVersion[]>;
  users?: WithNote<Map<string, TenantApplicationUser>>;
}): TenantReader & { reads: string[]; userLookups: string[][] } {
  const reads: string[] = [];
  const userLookups: string[][] = [];
  return {
    reads,
    userLookups,
    applications: async () => (reads.push('applications'), t.apps),
    servicePrincipalsWithCredentials: async () => (reads.push('servicePrincipals'), t.servicePrincipals ?? []),
    sites: async (env) => {
      reads.push(`sites:${env ?? '*'}`);
      const sites = (t.sites ?? []).filter((s) => !env || s.environmentId === env);
      return t.sitesNote ? { value: sites, note: t.sitesNote } : { value: sites };
    },
    vaultVersions: async (url) => {
      reads.push(`vault:${url}`);
      const v = t.vaults?.[url];
      if (!v) throw new Error(`no vault ${url}`);
      return v;
    },
    applicationUsers: async (env, appIds) => {
      reads.push(`users:${env}`);
      userLookups.push([...appIds]);
      return t.users ?? { value: new Map() };
    },
  };
}
