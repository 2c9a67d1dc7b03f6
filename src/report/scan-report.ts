/**
 * `scan --html FILE`: a self-contained page an admin opens or attaches to a ticket — counts, the expiry timeline
 * (SVG) and the table. Inline CSS and SVG only; its Content-Security-Policy forbids every fetch and script, so the
 * page shows the same thing offline, in a mail client or behind a proxy. Only names, kinds, thumbprints, dates and
 * statuses go in, scrubbed again like every other output (I4).
 */
import { scrubValue } from '../logging/scrub.js';
import { escapeXml } from './escape.js';
import { selfContainedPage, writePage } from './html-page.js';
import { chartOrder, expiryChartSvg, STATUS_COLOURS, type ExpiryRow } from './expiry-chart.js';
import type { IdentityTargetRow } from '../commands/identity.js';
import { identitySectionHtml } from './identity-report.js';

export type { ExpiryRow } from './expiry-chart.js';

/** What the page is made from. */
export interface ScanReportInput {
  rows: ExpiryRow[];
  /** Epoch ms the scan ran at: "today" on the chart. */
  generatedAt: number;
  /** Where the rows come from, e.g. the config file's path. */
  source?: string;
  /**
   * The identity audit of each configured power-pages target (issue 13), shown in its own section; a target whose
   * Dataverse could not be read carries its `error`. Absent: no section (no power-pages target).
   */
  identity?: IdentityTargetRow[];
}

const STATUS_TEXT: Record<ExpiryRow['status'], string> = {
  ok: 'ok',
  due: 'due',
  expired: 'expired',
  broken: 'broken (no usable key)',
  blocked: 'due, cannot rotate',
  federated: 'federated',
  unknown: 'unknown',
  inFlight: 'in flight',
  orphaned: 'orphaned keys',
};

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #212121; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: #616161; margin: 0 0 18px; }
.tiles { display: flex; gap: 12px; margin: 0 0 18px; flex-wrap: wrap; }
.tile { background: #fff; border: 1px solid #e0e0e0; border-left: 6px solid var(--c); border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.tile b { display: block; font-size: 24px; color: var(--c); }
figure { margin: 0 0 22px; background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; padding: 12px; overflow-x: auto; }
figcaption { color: #616161; margin-top: 6px; font-size: 12px; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: -2px; background: var(--c); }
table { border-collapse: collapse; background: #fff; width: 100%; border: 1px solid #e0e0e0; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eeeeee; }
th { background: #f5f5f5; font-weight: 600; }
td.mono { font-family: ui-monospace, Consolas, monospace; font-size: 12px; }
tr.status-due td { background: #fff3e0; }
tr.status-expired td { background: #ffebee; }
tr.status-orphaned td { background: #f3e5f5; }
tr.status-broken td, tr.status-blocked td { background: #fce4ec; }
.badge { color: #fff; background: var(--c); border-radius: 10px; padding: 1px 9px; font-size: 12px; font-weight: 600; }
h2 { font-size: 17px; margin: 26px 0 8px; }
section.identity table { margin-bottom: 14px; }
section.identity td { vertical-align: top; }
section.identity td.mono { word-break: break-all; }
@media print { body { background: #fff; margin: 0; } figure, table { break-inside: avoid; } }
`;

function tile(label: string, count: number, colour: string): string {
  return `<div class="tile" style="--c:${colour}"><b>${count}</b>${escapeXml(label)}</div>`;
}

/** The whole page as one HTML string. */
export function scanReportHtml(input: ScanReportInput): string {
  const rows = chartOrder(scrubValue(input.rows) as ExpiryRow[]);
  const now = input.generatedAt;
  const count = (status: ExpiryRow['status']) => rows.filter((r) => r.status === status).length;
  const generated = new Date(now).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const body: string[] = [];
  body.push(
    '<h1>Certificate expiry report</h1>',
    `<p class="meta">${rows.length} target(s), scanned ${generated}${
      input.source ? ` from ${escapeXml(input.source)}` : ''
    } by certrotate. Rotate a due target with <code>certrotate rotate TARGET</code>.</p>`,
    '<div class="tiles">',
    tile('expired', count('expired'), STATUS_COLOURS.expired),
    tile('due for rotation', count('due'), STATUS_COLOURS.due),
    tile('ok', count('ok'), STATUS_COLOURS.ok),
    tile('broken / unreadable', count('broken') + count('unknown'), STATUS_COLOURS.broken),
    tile('due, cannot rotate', count('blocked'), STATUS_COLOURS.blocked),
    tile('federated', count('federated'), STATUS_COLOURS.federated),
    tile('rotation in flight', count('inFlight'), STATUS_COLOURS.inFlight),
    tile('orphaned keys', count('orphaned'), STATUS_COLOURS.orphaned),
    '</div>',
    '<figure>',
    expiryChartSvg(rows, now),
    '<figcaption><div class="legend">' +
      (Object.keys(STATUS_COLOURS) as ExpiryRow['status'][])
        .map((s) => `<span style="--c:${STATUS_COLOURS[s]}"><i></i>${STATUS_TEXT[s]}</span>`)
        .join('') +
      '</div>Bars run from today to each key’s expiry; the shaded band before an expiry is its rotation window ' +
      '(<code>rotateBefore</code>). Due and expired targets are highlighted.</figcaption>',
    '</figure>',
    '<table class="targets"><thead><tr><th>Target</th><th>Kind</th><th>Credential</th><th>Thumbprint</th><th>Expires</th>' +
      '<th>Days left</th><th>Status</th></tr></thead><tbody>',
  );
  for (const r of rows) {
    body.push(
      `<tr class="status-${r.status}" data-target="${escapeXml(r.name)}">` +
        `<td>${escapeXml(r.name)}${r.source === 'site' ? ' <small>(site, not configured)</small>' : ''}</td>` +
        `<td>${escapeXml(r.kind)}</td><td>${escapeXml(r.credential)}</td>` +
        `<td class="mono">${escapeXml(r.thumbprint ?? '–')}</td>` +
        `<td>${escapeXml(r.expiresOn?.slice(0, 10) ?? '–')}</td>` +
        `<td>${r.daysLeft === null ? '–' : r.daysLeft}</td>` +
        `<td><span class="badge" style="--c:${STATUS_COLOURS[r.status]}">${STATUS_TEXT[r.status]}</span>` +
        `${r.error ? ` ${escapeXml(r.error)}` : ''}${r.detail ? ` ${escapeXml(r.detail)}` : ''}</td></tr>`,
    );
  }
  body.push('</tbody></table>');
  if (input.identity?.length) {
    const identity = scrubValue(input.identity) as IdentityTargetRow[];
    body.push(
      '<section class="identity"><h2>Dataverse identity of the Power Pages sites</h2>',
      '<p class="meta">Which identity each site reaches Dataverse as, and what still depends on SYSTEM ' +
        '(informational: it never blocks a rotation). Details and fixes: <code>certrotate identity TARGET</code>.</p>',
      ...identitySectionHtml(identity, { failedLabel: 'not checked' }),
      '</section>',
    );
  }
  return selfContainedPage(`certrotate expiry report ${new Date(now).toISOString().slice(0, 10)}`, CSS, body, true);
}

/** Writes the page to `path` (mode 0644: it holds no secret and is meant to be shared). Returns the absolute path. */
export async function writeScanReport(path: string, input: ScanReportInput): Promise<string> {
  return writePage(path, scanReportHtml(input));
}
