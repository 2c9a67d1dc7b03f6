/**
 * `discover`: reads the tenant through a {@link TenantReader} (read-only, I6) and classifies what it found. The reads
 * are independent, so they run at once; a part that cannot be read in full (sites, application users) becomes a
 * note, never a wrong classification without saying so.
 */
import { classifyApps, countApps, type DiscoveredApp, type DiscoveryCounts } from './classify.js';
import type { TenantReader, VaultCertificateVersion } from './tenant-reader.js';

/** Options of {@link discoverTenant}. */
export interface DiscoverOptions {
  now: number;
  rotateBeforeMs: number;
  /** Vault URLs whose certificate versions mark an app as Key Vault-backed. */
  vaults: string[];
  /** Power Platform environment: only its sites, and its Dataverse application users. */
  environment?: string;
}

/** The discover document (`--json`). */
export interface DiscoveryReport {
  formatVersion: 1;
  apps: DiscoveredApp[];
  counts: DiscoveryCounts;
  notes: string[];
}

/** The note every report with client secrets carries. */
export function secretsNote(counts: DiscoveryCounts): string | undefined {
  if (counts.secrets === 0) return undefined;
  return (
    `${counts.secrets} client secret(s), ${counts.secretsDueOrExpired} due or expired: certrotate rotates ` +
    'certificates, not client secrets. Move each of these apps from a secret to a certificate credential (add a ' +
    'certificate, switch the app server to it, remove the secret); certrotate can then rotate it.'
  );
}

/** Reads and classifies the tenant. */
export async function discoverTenant(reader: TenantReader, opts: DiscoverOptions): Promise<DiscoveryReport> {
  const environment = opts.environment;
  const appsRead = reader.applications();
  const [apps, servicePrincipals, sites, versions, users] = await Promise.all([
    appsRead,
    reader.servicePrincipalsWithCredentials(),
    reader.sites(environment),
    Promise.all(opts.vaults.map((v) => reader.vaultVersions(v))).then((all): VaultCertificateVersion[] => all.flat()),
    // The application users are looked up by app id, so this read follows the apps' (the others run meanwhile).
    environment
      ? appsRead.then((a) =>
          reader.applicationUsers(
            environment,
            a.map((x) => x.appId),
          ),
        )
      : undefined,
  ]);
  const classified = classifyApps(apps, {
    now: opts.now,
    rotateBeforeMs: opts.rotateBeforeMs,
    servicePrincipals,
    sites: sites.value,
    vaultVersions: versions,
    ...(users && !users.note ? { applicationUsers: users.value } : {}),
  });
  const counts = countApps(classified);
  const notes = [sites.note, users?.note, secretsNote(counts)].filter((n): n is string => Boolean(n));
  return { formatVersion: 1, apps: classified, counts, notes };
}
