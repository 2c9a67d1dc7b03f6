/**
 * `scan --environment ENV`: every Power Pages site of a Power Platform environment, configured or not, with its app's
 * credential kind, key expiry and status. Reads only (I6): the websites list, then each site's app from Graph.
 */
import type { Logger } from 'pino';
import { toPortError, type AppRegistry, type SiteDirectory, type SiteInfo } from '../adapters/ports.js';
import type { Config } from '../config/schema.js';
import { keyColumns, statusCell } from './key-status.js';
import type { RotationInput, TargetObservation } from '../machines/rotation-types.js';

/** One site of `scan --environment` (the `sites` array of the scan JSON document). */
export interface SiteScanRow {
  /** The site's name in the environment. */
  name: string;
  kind: 'power-pages';
  websiteId: string;
  environmentId: string;
  /** The site's Entra app ("Portals - …"), as the websites API names it. */
  appId: string;
  /** The configured target for this site, or null when the configuration does not list it. */
  target: string | null;
  credential: 'certificate' | 'federated' | 'unknown';
  thumbprint: string | null;
  expiresOn: string | null;
  daysLeft: number | null;
  status: 'ok' | 'due' | 'expired' | 'broken' | 'blocked' | 'federated' | 'unknown';
  /** Why the site's app could not be read or cannot be rotated, in full; absent otherwise. */
  error?: string;
  /** `broken` / `blocked`: the reason in a short clause, for the table cell. */
  reason?: string;
}

/** What a site scan reads through. */
export interface SiteScanPorts {
  sites: SiteDirectory;
  apps: AppRegistry;
  now(): number;
}

/** Classifies one site from its app, by the preflight verdict the rotation switches on. */
export function siteScanRow(
  config: Config,
  site: SiteInfo,
  observation: TargetObservation | { error: string },
): SiteScanRow {
  const configured = config.targets.find((t) => t.kind === 'power-pages' && t.websiteId === site.websiteId);
  const base = {
    name: site.name || site.websiteId,
    kind: 'power-pages' as const,
    websiteId: site.websiteId,
    environmentId: site.environmentId,
    appId: site.appId,
    target: configured?.name ?? null,
  };
  const none = { thumbprint: null, expiresOn: null, daysLeft: null };
  if ('error' in observation)
    return { ...base, credential: 'unknown', ...none, status: 'unknown', error: observation.error };
  const settings: RotationInput = {
    runId: 'scan',
    target: base.target ?? base.name,
    kind: 'power-pages',
    appId: site.appId,
    site: { environmentId: site.environmentId, websiteId: site.websiteId },
    rotateBeforeMs: configured?.rotateBefore ?? config.defaults.rotateBefore,
    verifyTimeoutMs: config.defaults.verifyTimeout,
    retireAfterMs: config.defaults.retireAfter,
  };
  // The machine's preflight verdict decides: scan reports what a rotation would find.
  return { ...base, ...keyColumns(observation, settings) };
}

/**
 * Lists the environment's sites and reads each site's app. A site whose app cannot be read is reported `unknown`
 * with the reason, so one broken site does not hide the others; a list the API refuses fails the whole scan.
 */
export async function scanEnvironment(
  ports: SiteScanPorts,
  config: Config,
  environmentId: string,
  signal?: AbortSignal,
): Promise<SiteScanRow[]> {
  const options = signal ? { signal } : {};
  const sites = await ports.sites.listSites(environmentId, options);
  const rows: SiteScanRow[] = [];
  for (const site of sites) {
    try {
      const app = await ports.apps.getApp(site.appId, options);
      const observation: TargetObservation = { now: ports.now(), app, versions: [], server: { manual: false } };
      rows.push(siteScanRow(config, site, observation));
    } catch (err) {
      rows.push(siteScanRow(config, site, { error: toPortError(err).message }));
    }
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** `scan --environment`: the environment's sites over the Azure adapters of `config` (made here, on demand). */
export async function scanEnvironmentRows(
  ctx: { logger: Logger; env: NodeJS.ProcessEnv },
  config: Config,
  environmentId: string,
): Promise<SiteScanRow[]> {
  const [{ createAzureAdapters }, { systemClock }] = await Promise.all([
    import('../adapters/azure/index.js'),
    import('../runs/system-clock.js'),
  ]);
  const azure = createAzureAdapters(config, { logger: ctx.logger, clock: systemClock, env: ctx.env });
  return scanEnvironment({ sites: azure.sites, apps: azure.apps, now: () => systemClock.now() }, config, environmentId);
}

/** The human table of `scan --environment`. */
export function sitesTable(environmentId: string, rows: SiteScanRow[], table: (rows: string[][]) => string): string {
  if (rows.length === 0) return `No Power Pages sites in environment ${environmentId}.`;
  const out = [['SITE', 'TARGET', 'CREDENTIAL', 'THUMBPRINT', 'EXPIRES', 'DAYS', 'STATUS']];
  for (const r of rows) {
    out.push([
      r.name,
      r.target ?? '(not configured)',
      r.credential,
      r.thumbprint ?? '-',
      r.expiresOn?.slice(0, 10) ?? '-',
      r.daysLeft === null ? '-' : String(r.daysLeft),
      statusCell(r),
    ]);
  }
  return `Power Pages sites in environment ${environmentId}:\n${table(out)}`;
}
