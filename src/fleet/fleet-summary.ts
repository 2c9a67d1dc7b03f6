/**
 * The fleet's words: the summary table, the one JSON document, and the one combined instruction list for every
 * Power Pages site parked for the admin center's Update key. Ids, thumbprints and times only, never key material.
 */
import { fleetCounts, fleetExitCode, type FleetRunResult } from './fleet-run.js';

/** `rotate --due --json`: one document for the whole fleet. */
export interface FleetDocument {
  formatVersion: 1;
  exitCode: number;
  runs: Array<
    Omit<FleetRunResult, 'sitePark' | 'oldThumbprint' | 'newThumbprint' | 'newExpiresOn' | 'message' | 'next'> & {
      oldThumbprint: string | null;
      newThumbprint: string | null;
      newExpiresOn: string | null;
      message: string | null;
      next: string | null;
    }
  >;
  counts: ReturnType<typeof fleetCounts>;
  /** Power Pages sites parked for Update key, with the steps once; null when there are none. */
  powerPages: { instructions: string; sites: Array<{ target: string; runId: string } & SiteParkLine> } | null;
}

type SiteParkLine = NonNullable<FleetRunResult['sitePark']> & { resume: string };

const ADMIN_CENTER_STEPS =
  'In the Power Platform admin center (https://admin.powerplatform.microsoft.com), for each site below: Manage → ' +
  'Power Pages → the site → Security → Website Authentication Key → Update key → OK. Each site restarts and is ' +
  'unavailable for 5–15 minutes; if the admin center reports that the update failed, press Retry Authentication Key ' +
  'Update there (contact Microsoft support if it keeps failing). Then resume each run: it waits for the new key and ' +
  'the site, and removes the old key once the site is healthy on the new one.';

function parkedSites(results: readonly FleetRunResult[]) {
  return results.filter(
    (r): r is FleetRunResult & { runId: string; sitePark: NonNullable<FleetRunResult['sitePark']> } =>
      r.sitePark !== undefined && r.runId !== null,
  );
}

/** The combined Power Pages instruction list: the admin-center steps once, then one line per parked site. */
export function powerPagesInstructions(results: readonly FleetRunResult[]): string | undefined {
  const sites = parkedSites(results);
  if (!sites.length) return undefined;
  const lines = [
    `Power Pages: ${sites.length} site${sites.length === 1 ? '' : 's'} wait${sites.length === 1 ? 's' : ''} for Update key.`,
    ADMIN_CENTER_STEPS,
  ];
  sites.forEach((r, i) => {
    const key = r.sitePark.currentThumbprint
      ? ` (current key ${r.sitePark.currentThumbprint}, expires ${r.sitePark.currentExpiresOn ?? '?'})`
      : '';
    lines.push(
      `  ${i + 1}. site "${r.sitePark.site}" in environment "${r.sitePark.environment}"${key}` +
        ` — then: ${r.next ?? `certrotate resume ${r.runId}`}`,
    );
  });
  return lines.join('\n');
}

/** The fleet's JSON document (`--json`). */
export function fleetDocument(results: readonly FleetRunResult[], interrupted?: NodeJS.Signals): FleetDocument {
  const sites = parkedSites(results);
  return {
    formatVersion: 1,
    exitCode: fleetExitCode(results, interrupted),
    runs: results.map((r) => ({
      target: r.target,
      runId: r.runId,
      outcome: r.outcome,
      exitCode: r.exitCode,
      oldThumbprint: r.oldThumbprint ?? null,
      newThumbprint: r.newThumbprint ?? null,
      newExpiresOn: r.newExpiresOn ?? null,
      message: r.message ?? null,
      next: r.next ?? null,
      ...(r.notifications ? { notifications: r.notifications } : {}),
    })),
    counts: fleetCounts(results),
    powerPages: sites.length
      ? {
          instructions: ADMIN_CENTER_STEPS,
          sites: sites.map((r) => ({
            target: r.target,
            runId: r.runId,
            ...r.sitePark,
            resume: r.next ?? `certrotate resume ${r.runId}`,
          })),
        }
      : null,
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The fleet's summary for people: one row per target, the counts, the combined Power Pages list, the exit code. */
export function fleetSummary(results: readonly FleetRunResult[], interrupted?: NodeJS.Signals): string {
  const rows = [['TARGET', 'OUTCOME', 'RUN', 'NEW KEY', 'EXPIRES', 'NEXT']];
  for (const r of results) {
    rows.push([
      r.target,
      r.outcome,
      r.runId ?? '-',
      r.newThumbprint ?? '-',
      r.newExpiresOn ? r.newExpiresOn.slice(0, 10) : '-',
      r.next ?? '-',
    ]);
  }
  const counts = fleetCounts(results);
  const nonZero = Object.entries(counts)
    .filter(([k, v]) => k !== 'total' && v > 0)
    .map(([k, v]) => `${v} ${k}`);
  const lines = [...table(rows), '', `${counts.total} target(s): ${nonZero.join(', ') || 'none'}`];
  const why = results.filter((r) => r.message && !r.sitePark && r.outcome !== 'succeeded' && r.outcome !== 'notDue');
  if (why.length) {
    lines.push('', ...why.map((r) => `${r.target}: ${r.message}`));
  }
  const pages = powerPagesInstructions(results);
  if (pages) lines.push('', pages);
  lines.push('', `exit ${fleetExitCode(results, interrupted)}`);
  return lines.join('\n');
}
