/**
 * `certrotate doctor`: whether certrotate's identity has, for every configured target, what each rotation step needs
 * (src/fleet/doctor.ts), with the role to grant per failed check. Reads only; exit 1 when any check failed.
 */
import { toPortError, type KeyRef } from '../adapters/ports.js';
import type { Config, KeyVaultTargetConfig } from '../config/schema.js';
import { runDoctor, type DoctorProbes, type ProbeResult } from '../fleet/doctor.js';
import type { CommandContext } from './context.js';
import { table } from './runs.js';
import { portsForTarget } from './target-ports.js';

/** A port call that was refused is a failed probe; any other failure is too, with its message. */
async function probe(call: () => Promise<unknown>, okDetail?: string): Promise<ProbeResult> {
  try {
    await call();
    return okDetail ? { ok: true, detail: okDetail } : { ok: true };
  } catch (err) {
    const e = toPortError(err);
    // A missing certificate or secret still proves the right to read it: Key Vault checks access first.
    if (e.code === 'notFound') return { ok: true, detail: 'granted (the object does not exist yet)' };
    return { ok: false, detail: `${e.code}: ${e.message}` };
  }
}

/** The current key of a keyvault target: its newest vault version whose thumbprint is on the app. */
async function currentKey(ctx: CommandContext, config: Config, target: KeyVaultTargetConfig): Promise<KeyRef> {
  const ports = await portsForTarget(ctx, config, target);
  const [app, versions] = await Promise.all([
    ports.apps.getApp(target.app.appId),
    ports.certificates.listVersions(target.keyVault.certificate),
  ]);
  const onApp = new Set(app.keyCredentials.map((k) => k.thumbprint));
  const newest = versions
    .filter((v) => v.enabled)
    .sort((a, b) => b.createdOn.localeCompare(a.createdOn))
    .find((v) => onApp.has(v.thumbprint));
  if (!newest)
    throw new Error(`no enabled version of ${target.keyVault.certificate} is a key of app ${target.app.appId}`);
  return { thumbprint: newest.thumbprint, secretId: newest.secretId };
}

/** The probes over the Azure adapters. */
async function azureProbes(ctx: CommandContext, config: Config): Promise<DoctorProbes> {
  const { createAzureAdapters } = await import('../adapters/azure/index.js');
  const adapters = createAzureAdapters(config, { logger: ctx.logger, env: ctx.env });
  const kvTarget = (vaultUrl: string, certificate: string) =>
    config.targets.find(
      (t): t is KeyVaultTargetConfig =>
        t.kind === 'keyvault' && t.keyVault.url === vaultUrl && t.keyVault.certificate === certificate,
    )!;
  return {
    async appWrite(appId) {
      try {
        const access = await adapters.ownership.callerAccess(appId);
        return access.canWrite ? { ok: true, detail: access.detail } : { ok: false, detail: access.detail };
      } catch (err) {
        const e = toPortError(err);
        return { ok: false, detail: `${e.code}: ${e.message}` };
      }
    },
    async vaultCertificatesRead(vaultUrl, certificate) {
      const ports = await portsForTarget(ctx, config, kvTarget(vaultUrl, certificate));
      return probe(() => ports.certificates.listVersions(certificate));
    },
    async vaultSecretRead(vaultUrl, certificate) {
      const target = kvTarget(vaultUrl, certificate);
      return probe(async () => {
        let key: KeyRef | undefined;
        try {
          key = await currentKey(ctx, config, target);
        } catch (err) {
          if (toPortError(err).code === 'forbidden') throw err;
        }
        // Read and dropped at once: doctor never keeps or prints key material.
        if (key) return adapters.keyMaterial.load(key);
        // No current version names the secret: read the latest one; a wrong thumbprint still proves the right.
        await adapters.keyMaterial
          .load({ thumbprint: '', secretId: `${vaultUrl}/secrets/${certificate}` })
          .catch((err: unknown) => {
            if (toPortError(err).code !== 'invalidRequest') throw err;
          });
      });
    },
    async dataverseWhoAmI(target) {
      const ports = await portsForTarget(ctx, config, target);
      return probe(async () => {
        const key = await currentKey(ctx, config, target);
        const base = target.verify.dataverseUrl.replace(/\/+$/, '');
        const token = await ports.tokens.acquireToken(target.app.appId, key, `${base}/.default`);
        await ports.dataverse.whoAmI(base, token);
      });
    },
    async powerPlatformSite(environmentId, websiteId) {
      return probe(() => adapters.sites.getSite(environmentId, websiteId));
    },
  };
}

/** `doctor`: one line per check, the grants for the failed ones; exit 1 when any failed. */
export async function doctorCommand(ctx: CommandContext): Promise<number> {
  const { config } = await ctx.config();
  const identity =
    'clientId' in config.auth && config.auth.clientId
      ? `certrotate's identity (${config.auth.clientId})`
      : "certrotate's identity";
  const checks = await runDoctor(config.targets, await azureProbes(ctx, config), identity);
  const failed = checks.filter((c) => c.result === 'failed');
  ctx.print({ formatVersion: 1, checks, counts: { checks: checks.length, failed: failed.length } }, () => {
    if (checks.length === 0) return 'No targets configured.';
    const rows = [['TARGET', 'CHECK', 'RESULT', 'DETAIL']];
    for (const c of checks) rows.push([c.target, c.check, c.result, c.detail]);
    const grants = failed.map((c) => `${c.target} ${c.check}: grant ${c.grant}`);
    return [table(rows), ...(grants.length ? ['', 'To fix:', ...grants] : [])].join('\n');
  });
  return failed.length > 0 ? 1 : 0;
}
