import { keyColumns, shortReason, statusCell } from './key-status.js';
import { inventoryJson, type ScanCredential, type ScanOrphanVersion } from './inventory-json.js';
import type { TargetObservation } from '../machines/rotation-types.js';
import { AdapterError, toPortError } from '../adapters/ports.js';
import type { Config, TargetConfig } from '../config/schema.js';
import { guid } from '../config/fields.js';
import { rotationInputFor } from '../runs/target-input.js';
import { table } from './runs.js';
import { UsageError, type CommandContext } from './context.js';
import { observeTarget } from './observe.js';
import { portsForTarget } from './target-ports.js';
import { scanEnvironmentRows, sitesTable, type SiteScanRow } from './scan-environment.js';
import type { CredentialInventory } from '../machines/credential-inventory.js';
import { inFlightMessage } from '../machines/credential-inventory.js';
import { openStateBackend } from '../adapters/state/index.js';
import { inventoryFrom, type InventorySources } from '../runs/world-guard.js';
import type { IdentityTargetRow } from './identity.js';

/** One certificate credential of a keyvault target's app, as scan reports it (src/machines/credential-inventory.ts). */

/** One row of the scan document (DESIGN §5). */
export interface ScanRow {
  name: string;
  kind: TargetConfig['kind'];
  credential: 'certificate' | 'federated' | 'unknown';
  thumbprint: string | null;
  expiresOn: string | null;
  daysLeft: number | null;
  status: 'ok' | 'due' | 'expired' | 'broken' | 'blocked' | 'federated' | 'unknown' | 'inFlight' | 'orphaned';
  /**
   * Why the target could not be read (status `unknown`) or cannot be rotated (`broken`, `blocked`), in full; absent
   * otherwise. The table shows `reason` (or this, cut short) and prints the full text beneath it.
   */
  error?: string;
  /** `broken` / `blocked`: the reason in a short clause, for the table cell. */
  reason?: string;
  /** keyvault targets: every key credential of the app and what it is (in use, in flight, orphaned…). */
  credentials?: ScanCredential[];
  /** inFlight / orphaned: which run or which keys, and what to do. */
  detail?: string;
  /**
   * keyvault targets, when there are any: enabled Key Vault versions certrotate made that no credential of the app
   * holds and no live run will attach (a create that completed after its run ended); `prune` disables them.
   */
  orphanVersions?: ScanOrphanVersion[];
}

/**
 * A keyvault row with its app's credentials classified: another run's rotation in flight, or orphaned keys, take
 * the status over `due`/`ok` (an expired key in use stays `expired`: that is the most urgent fact).
 */
export function withInventory(row: ScanRow, inventory: CredentialInventory): ScanRow {
  const json = inventoryJson(inventory);
  const orphanVersions = json.orphanVersions ?? [];
  const out: ScanRow = { ...row, ...json };
  if (row.status !== 'ok' && row.status !== 'due') return out;
  if (inventory.inFlight) return { ...out, status: 'inFlight', detail: inFlightMessage(row.name, inventory.inFlight) };
  if (inventory.orphans.length > 0 || orphanVersions.length > 0) {
    const keys = inventory.orphans.map((o) => o.thumbprint).join(', ');
    const found = [
      ...(inventory.orphans.length
        ? [`${inventory.orphans.length} valid key(s) the server does not use and no run will retire: ${keys}`]
        : []),
      ...orphanVersions.map(
        (v) => `Key Vault version ${v.version} (key ${v.thumbprint}) of run ${v.runId} is orphaned: ${v.why}`,
      ),
    ];
    const does =
      orphanVersions.length === 0
        ? 'retires them'
        : inventory.orphans.length === 0
          ? 'disables them'
          : 'retires the keys and disables the versions';
    return {
      ...out,
      status: 'orphaned',
      detail:
        `${found.join('; ')}; \`certrotate prune ${row.name}\` ${does}` +
        (row.status === 'due' ? ' (the key in use is also due for rotation)' : ''),
    };
  }
  return out;
}

/** Classifies one target from what was observed, by the preflight verdict the machine switches on. */
export function scanRow(config: Config, target: TargetConfig, observation: TargetObservation): ScanRow {
  const input = rotationInputFor(config, target, { runId: 'scan' });
  const base = { name: target.name, kind: target.kind };
  // The machine's preflight verdict decides: scan reports what a rotation would find.
  return { ...base, ...keyColumns(observation, input) };
}

/** `--environment` takes a Power Platform environment id, a GUID: anything else is a usage error (exit 1). */
export function checkEnvironmentId(value: string): void {
  if (!guid.safeParse(value).success) {
    throw new UsageError(
      `option --environment: got "${value}"; expected a Power Platform environment id, a GUID such as ` +
        '72f988bf-86f1-41af-91ab-2d7cd011db47 (the admin center shows it under Environments > Details)',
    );
  }
}

/** `scan`: every configured target's key, expiry and status. Reads only (I6). */
export async function scanCommand(
  ctx: CommandContext,
  opts: { detailedExitcode?: boolean; environment?: string; html?: string; concurrency?: number; notify?: boolean },
): Promise<number> {
  if (opts.environment !== undefined) checkEnvironmentId(opts.environment);
  const { config, path: configPath } = await ctx.config();
  const rows: ScanRow[] = [];
  let failures = 0;
  // Read only: the runs the world markers name, so a key of an unfinished local run is never called an orphan.
  const { store, lock } = openStateBackend(config);
  // `--notify`: the channels are checked before anything is read (a usage error exits 1 before the scan).
  const notify = opts.notify
    ? (await import('./scan-notify.js')).scanNotifier(ctx, config, store, {}, { configOption: ctx.options.config })
    : undefined;
  let listed: InventorySources['listed'];
  const sources: InventorySources = {
    store,
    lock,
    staleRunAfterMs: config.defaults.staleRunAfter,
    // One read of the run list for all targets, made when the first keyvault target needs it.
    get listed() {
      return (listed ??= store.listRuns());
    },
  };
  // Targets are read concurrently under the shared limiter's budgets; rows keep the config's order.
  const { default: pLimit } = await import('p-limit');
  const { DEFAULT_READ_CONCURRENCY } = await import('../adapters/azure/limiter.js');
  const limit = pLimit(opts.concurrency ?? DEFAULT_READ_CONCURRENCY);
  const read = async (target: TargetConfig): Promise<ScanRow> => {
    try {
      const ports = await portsForTarget(ctx, config, target);
      const input = rotationInputFor(config, target, { runId: 'scan' });
      const observation = await observeTarget(ports, input);
      const row = scanRow(config, target, observation);
      return target.kind === 'keyvault' ? await classified(sources, target.name, observation, row) : row;
    } catch (err) {
      const error = toPortError(err);
      // No sign-in method was available: said once for the whole scan, since every target would repeat it.
      if (error.code === 'signInUnavailable') throw new AdapterError(error);
      failures++;
      ctx.logger.error(
        { target: target.name, code: error.code },
        `cannot read target ${target.name}: ${error.message}`,
      );
      return {
        name: target.name,
        kind: target.kind,
        credential: 'unknown',
        thumbprint: null,
        expiresOn: null,
        daysLeft: null,
        status: 'unknown',
        error: error.message,
      };
    }
  };
  rows.push(...(await Promise.all(config.targets.map((t) => limit(() => read(t))))));
  // `--environment`: the environment's sites too, configured or not (discovery before the admin center's emails).
  let sites: SiteScanRow[] | undefined;
  if (opts.environment) {
    try {
      sites = await scanEnvironmentRows(ctx, config, opts.environment);
    } catch (err) {
      // One sentence on stderr, no table of sites: "No sites" would claim an environment that was never read.
      failures++;
      const error = toPortError(err);
      process.stderr.write(
        error.code === 'notFound'
          ? `certrotate: environment not found: ${opts.environment}\n`
          : `certrotate: cannot list the sites of environment ${opts.environment}: ${shortReason(error.message)}\n`,
      );
    }
  }
  if (opts.html) {
    // The report's identity section (issue 13): informational, read only for the page, never in the exit code.
    const { configuredIdentities } = await import('./identity-line.js');
    await writeHtmlReport(opts.html, configPath, config, rows, sites, await configuredIdentities(ctx, config));
  }
  // Never changes the exit code: every failure is logged and listed in `notifications`.
  const notifications = notify ? await notify(rows) : undefined;
  const doc = { formatVersion: 1, targets: rows, ...(sites ? { sites } : {}) };
  ctx.print({ ...doc, ...(notifications ? { notifications } : {}) }, () => {
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
        statusCell(r),
      ]);
      // Every other key on the app, beneath its target: the orphans and in-flight keys scan exists to show.
      for (const c of r.credentials ?? []) {
        if (c.role === 'inUse') continue;
        out.push([`  ${c.role}`, '', '', c.thumbprint, c.expiresOn.slice(0, 10), '', c.runId ? `run ${c.runId}` : '']);
      }
      // Versions no credential holds: the vault side of an orphan (a create that completed after its run ended).
      for (const v of r.orphanVersions ?? []) {
        out.push(['  orphaned', 'version', v.version, v.thumbprint, v.expiresOn.slice(0, 10), '', `run ${v.runId}`]);
      }
    }
    // The full reasons beneath the table: a table cell holds a short clause only.
    const details = rows.flatMap((r) => [
      ...(r.error && fullerThanCell(r) ? [`${r.name}: ${r.error}`] : []),
      ...(r.detail ? [`${r.name}: ${r.detail}`] : []),
    ]);
    return `${table(out)}${details.length ? `\n${details.join('\n')}` : ''}${siteText}`;
  });
  return scanExitCode([...rows, ...(sites ?? [])], failures, opts.detailedExitcode === true);
}

/** Statuses that are an outage or a refusal a person must fix: scan exits 1 when any row has one. */
export const FAILING_STATUSES: ReadonlySet<ScanRow['status']> = new Set(['broken', 'blocked', 'unknown']);
/**
 * Statuses whose sign-ins fail now (the key in service is past its end) but that a rotation repairs: without
 * `--detailed-exitcode` scan exits 1 for them, so a plain scheduled `scan` never stays green through an outage;
 * with it they are pending (2), the code pipelines rotate on.
 */
export const OUTAGE_STATUSES: ReadonlySet<ScanRow['status']> = new Set(['expired']);
/** Statuses a rotation or `prune` would change: `--detailed-exitcode` exits 2 when any row has one (and none fails). */
export const PENDING_STATUSES: ReadonlySet<ScanRow['status']> = new Set(['due', 'expired', 'orphaned']);

/**
 * scan's exit code: 1 when a target (or a site) could not be read or cannot be rotated — never hidden behind
 * "pending" — else 2 with `--detailed-exitcode` when a rotation or a prune is pending; without it 1 when a key in
 * service has expired (an outage now); else 0.
 */
export function scanExitCode(
  rows: readonly Pick<ScanRow, 'status'>[],
  failures: number,
  detailedExitcode: boolean,
): number {
  if (failures > 0 || rows.some((r) => FAILING_STATUSES.has(r.status))) return 1;
  if (detailedExitcode) return rows.some((r) => PENDING_STATUSES.has(r.status)) ? 2 : 0;
  return rows.some((r) => OUTAGE_STATUSES.has(r.status)) ? 1 : 0;
}

function fullerThanCell(r: Pick<ScanRow, 'error' | 'reason'>): boolean {
  return r.error !== undefined && (r.reason !== undefined || shortReason(r.error) !== r.error);
}

/** The row with its app's credentials classified, from the observation scan already made (reads the state store). */
async function classified(
  sources: InventorySources,
  target: string,
  observation: TargetObservation,
  row: ScanRow,
): Promise<ScanRow> {
  const { inventory } = await inventoryFrom(sources, target, {
    now: observation.now,
    credentials: observation.app.keyCredentials,
    versions: observation.versions,
    // The server's report; a manual server cannot tell, so the key preflight took as in service stands in.
    ...((observation.server.thumbprint ?? row.thumbprint)
      ? { inUseThumbprint: (observation.server.thumbprint ?? row.thumbprint)! }
      : {}),
  });
  return withInventory(row, inventory);
}

/** `--html FILE`: the expiry report page (src/report), written before stdout so a failed write prints no table. */
async function writeHtmlReport(
  file: string,
  configPath: string,
  config: Config,
  rows: ScanRow[],
  sites: SiteScanRow[] | undefined,
  identity: IdentityTargetRow[],
): Promise<void> {
  const { scanReportRows } = await import('../report/scan-rows.js');
  const { writeScanReport } = await import('../report/scan-report.js');
  let written: string;
  try {
    written = await writeScanReport(file, {
      rows: scanReportRows(config, rows, sites),
      generatedAt: Date.now(),
      source: configPath,
      identity,
    });
  } catch (err) {
    throw new UsageError(`option --html: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  process.stderr.write(`Expiry report written to ${written}\n`);
}
