import { preflightVerdict } from '../machines/preflight.js';
import { certificateStatus } from './key-status.js';
import type { TargetObservation } from '../machines/rotation-types.js';
import { AdapterError, toPortError } from '../adapters/ports.js';
import type { Config, TargetConfig } from '../config/schema.js';
import { rotationInputFor } from '../runs/target-input.js';
import { table } from './runs.js';
import { UsageError, type CommandContext } from './context.js';
import { observeTarget } from './observe.js';
import { portsForTarget } from './target-ports.js';
import { scanEnvironmentRows, sitesTable, type SiteScanRow } from './scan-environment.js';

/** One row of the scan document (DESIGN §5). */
export interface ScanRow {
  name: string;
  kind: TargetConfig['kind'];
  credential: 'certificate' | 'federated' | 'unknown';
  thumbprint: string | null;
  expiresOn: string | null;
  daysLeft: number | null;
  status: 'ok' | 'due' | 'expired' | 'noKey' | 'federated' | 'unknown';
  /** Why the target could not be read (status `unknown`); absent otherwise. */
  error?: string;
}

/** Classifies one target from what was observed, by the preflight verdict the machine switches on. */
export function scanRow(config: Config, target: TargetConfig, observation: TargetObservation): ScanRow {
  const input = rotationInputFor(config, target, { runId: 'scan', autoConfirm: false });
  const base = { name: target.name, kind: target.kind };
  const none = { thumbprint: null, expiresOn: null, daysLeft: null };
  // The machine's preflight verdict decides: scan reports what a rotation would find.
  const decision = preflightVerdict(observation, input);
  switch (decision.reason) {
    case 'UsesPlatformIdentity':
      return { ...base, credential: 'federated', ...none, status: 'federated' };
    case 'NoUsableCurrentKey':
      return { ...base, credential: 'unknown', ...none, status: 'noKey', error: decision.message };
    default:
      return { ...base, ...certificateStatus(decision.key, observation.now, input) };
  }
}

/** `scan`: every configured target's key, expiry and status. Reads only (I6). */
export async function scanCommand(
  ctx: CommandContext,
  opts: { detailedExitcode?: boolean; environment?: string; html?: string },
): Promise<number> {
  const { config, path: configPath } = await ctx.config();
  const rows: ScanRow[] = [];
  let failures = 0;
  for (const target of config.targets) {
    try {
      const ports = await portsForTarget(ctx, config, target);
      const input = rotationInputFor(config, target, { runId: 'scan', autoConfirm: false });
      rows.push(scanRow(config, target, await observeTarget(ports, input)));
    } catch (err) {
      const error = toPortError(err);
      // No sign-in method was available: said once for the whole scan, since every target would repeat it.
      if (error.code === 'signInUnavailable') throw new AdapterError(error);
      failures++;
      ctx.logger.error(
        { target: target.name, code: error.code },
        `cannot read target ${target.name}: ${error.message}`,
      );
      rows.push({
        name: target.name,
        kind: target.kind,
        credential: 'unknown',
        thumbprint: null,
        expiresOn: null,
        daysLeft: null,
        status: 'unknown',
        error: error.message,
      });
    }
  }
  // `--environment`: the environment's sites too, configured or not (discovery before the admin center's emails).
  let sites: SiteScanRow[] | undefined;
  if (opts.environment) {
    try {
      sites = await scanEnvironmentRows(ctx, config, opts.environment);
    } catch (err) {
      failures++;
      const error = toPortError(err);
      ctx.logger.error(
        { environment: opts.environment, code: error.code },
        `cannot list the sites of environment ${opts.environment}: ${error.message}`,
      );
      sites = [];
    }
  }
  if (opts.html) await writeHtmlReport(opts.html, configPath, config, rows, sites);
  ctx.print({ formatVersion: 1, targets: rows, ...(sites ? { sites } : {}) }, () => {
    const siteText = sites && opts.environment ? `\n${sitesTable(opts.environment, sites, table)}` : '';
    if (rows.length === 0) return `No targets configured.${siteText}`;
    const out = [['TARGET', 'KIND', 'CREDENTIAL', 'THUMBPRINT', 'EXPIRES', 'DAYS', 'STATUS']];
    for (const r of rows) {
      out.push([
        r.name,
        r.kind,
        r.credential,
        r.thumbprint ?? '-',
        r.expiresOn?.slice(0, 10) ?? '-',
        r.daysLeft === null ? '-' : String(r.daysLeft),
        r.status + (r.error ? ` (${r.error})` : ''),
      ]);
    }
    return `${table(out)}${siteText}`;
  });
  if (failures > 0) return 1;
  const pending = [...rows, ...(sites ?? [])].some(
    (r) => r.status === 'due' || r.status === 'expired' || r.status === 'noKey',
  );
  return opts.detailedExitcode && pending ? 2 : 0;
}

/** `--html FILE`: the expiry report page (src/report), written before stdout so a failed write prints no table. */
async function writeHtmlReport(
  file: string,
  configPath: string,
  config: Config,
  rows: ScanRow[],
  sites: SiteScanRow[] | undefined,
): Promise<void> {
  const { scanReportRows } = await import('../report/scan-rows.js');
  const { writeScanReport } = await import('../report/scan-report.js');
  let written: string;
  try {
    written = await writeScanReport(file, {
      rows: scanReportRows(config, rows, sites),
      generatedAt: Date.now(),
      source: configPath,
    });
  } catch (err) {
    throw new UsageError(`option --html: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  process.stderr.write(`Expiry report written to ${written}\n`);
}
