/**
 * The report's rows from a scan: each configured target with its rotation window, and the sites `--environment`
 * found that no target lists (a configured site is already its target's row).
 */
import type { Config } from '../config/schema.js';
import { rotationInputFor } from '../runs/target-input.js';
import type { ExpiryRow } from './expiry-chart.js';

/** A scan row as `scan` builds it (DESIGN §5), without importing the command. */
type ScanRowLike = Omit<ExpiryRow, 'rotateBeforeMs' | 'source'>;

/** The rows of the expiry report for a scan of `config`. */
export function scanReportRows(
  config: Config,
  rows: ScanRowLike[],
  sites: (ScanRowLike & { target: string | null })[] = [],
): ExpiryRow[] {
  const out: ExpiryRow[] = rows.map((row) => {
    const target = config.targets.find((t) => t.name === row.name);
    const rotateBeforeMs = target ? rotationInputFor(config, target, { runId: 'scan' }).rotateBeforeMs : undefined;
    return { ...row, source: 'target', ...(rotateBeforeMs !== undefined ? { rotateBeforeMs } : {}) };
  });
  for (const site of sites) {
    if (site.target !== null) continue;
    out.push({ ...pick(site), source: 'site' });
  }
  return out;
}

/** Only the fields the report shows (a site row also carries ids the page does not need). */
function pick(row: ScanRowLike): ScanRowLike {
  const { name, kind, credential, thumbprint, expiresOn, daysLeft, status, error, detail } = row;
  return {
    name,
    kind,
    credential,
    thumbprint,
    expiresOn,
    daysLeft,
    status,
    ...(error ? { error } : {}),
    ...(detail ? { detail } : {}),
  };
}
