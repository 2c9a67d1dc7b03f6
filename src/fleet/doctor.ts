/**
 * `certrotate doctor`: per target, whether certrotate's identity has what each rotation step needs, and for each
 * missing right the exact role or permission to grant and where. Every probe is a read (I6): a right that only a
 * write could prove (Key Vault certificate create) is reported `unverified` with the role that grants it.
 */
import type { TargetConfig } from '../config/schema.js';

/** What a probe found. */
export type ProbeResult = { ok: true; detail?: string } | { ok: false; detail: string };

/** The reads doctor makes, one per right; the Azure implementation is in src/commands/doctor.ts. */
export interface DoctorProbes {
  /** May certrotate's identity add and remove the app's keys (owner with OwnedBy, or ReadWrite.All)? */
  appWrite(appId: string): Promise<ProbeResult>;
  /** Certificate get/list on the vault (lists the certificate's versions). */
  vaultCertificatesRead(vaultUrl: string, certificate: string): Promise<ProbeResult>;
  /** Secret get on the vault (reads the certificate's secret; its value is never kept or shown). */
  vaultSecretRead(vaultUrl: string, certificate: string): Promise<ProbeResult>;
  /** A Dataverse token with the app's current key and WhoAmI (what verification does). */
  dataverseWhoAmI(target: Extract<TargetConfig, { kind: 'keyvault' }>): Promise<ProbeResult>;
  /** The Power Platform API's website read. */
  powerPlatformSite(environmentId: string, websiteId: string): Promise<ProbeResult>;
}

/** One check of one target. */
export interface DoctorCheck {
  target: string;
  check:
    | 'graph-app-write'
    | 'keyvault-certificate-read'
    | 'keyvault-certificate-create'
    | 'keyvault-secret-get'
    | 'dataverse-whoami'
    | 'power-platform-site';
  result: 'ok' | 'failed' | 'unverified' | 'skipped';
  detail: string;
  /** For failed and unverified checks: what to grant, to whom, and where. */
  grant?: string;
}

/** Runs every check of every target; `identity` names certrotate's identity in the grant texts. */
export async function runDoctor(
  targets: TargetConfig[],
  probes: DoctorProbes,
  identity: string,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const target of targets) {
    const add = (check: DoctorCheck['check'], r: ProbeResult, grant: string) =>
      checks.push({
        target: target.name,
        check,
        result: r.ok ? 'ok' : 'failed',
        detail: r.detail ?? 'granted',
        ...(r.ok ? {} : { grant }),
      });
    const appId = target.app.appId;
    add(
      'graph-app-write',
      await settle(probes.appWrite(appId)),
      `Microsoft Graph application permission Application.ReadWrite.OwnedBy (admin consent) for ${identity}, and ` +
        `${identity} as an owner of app ${appId} (Entra admin center → App registrations → ${appId} → Owners); ` +
        'or Application.ReadWrite.All (Entra admin center → App registrations → certrotate identity → API permissions)',
    );
    if (target.kind === 'keyvault') {
      const { url, certificate } = target.keyVault;
      add(
        'keyvault-certificate-read',
        await settle(probes.vaultCertificatesRead(url, certificate)),
        `Azure role "Key Vault Certificates Officer" for ${identity} on vault ${url} (Azure portal → the vault → ` +
          'Access control (IAM) → Add role assignment); with access policies: certificate permissions Get, List, Create',
      );
      const secret = await settle(probes.vaultSecretRead(url, certificate));
      add(
        'keyvault-secret-get',
        secret,
        `Azure role "Key Vault Secrets User" for ${identity} on vault ${url} (Azure portal → the vault → Access ` +
          'control (IAM) → Add role assignment); with access policies: secret permission Get',
      );
      checks.push({
        target: target.name,
        check: 'keyvault-certificate-create',
        result: 'unverified',
        detail: 'only a create proves it, and doctor never writes',
        grant: `Azure role "Key Vault Certificates Officer" for ${identity} on vault ${url} (or access policy certificate permission Create)`,
      });
      if (secret.ok) {
        add(
          'dataverse-whoami',
          await settle(probes.dataverseWhoAmI(target)),
          `app ${appId} as an application user of the environment at ${target.verify.dataverseUrl} (Power Platform ` +
            'admin center → Environments → the environment → Settings → Users + permissions → Application users → New app user)',
        );
      } else {
        checks.push({
          target: target.name,
          check: 'dataverse-whoami',
          result: 'skipped',
          detail: 'needs the key, which needs secret get',
        });
      }
    } else {
      add(
        'power-platform-site',
        await settle(probes.powerPlatformSite(target.environmentId, target.websiteId)),
        `read access to the Power Pages websites of environment ${target.environmentId} for ${identity} (Power ` +
          'Platform admin center → Environments → the environment → Settings → Users + permissions; the websites API ' +
          'documents delegated sign-in: configure siteUrl to check the site by its URL instead)',
      );
    }
  }
  return checks;
}

/** A probe that threw is a failed check with the error's message. */
async function settle(p: Promise<ProbeResult>): Promise<ProbeResult> {
  try {
    return await p;
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}
