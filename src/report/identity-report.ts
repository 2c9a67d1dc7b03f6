/**
 * `identity --html FILE`: the identity audit as a self-contained page — per target the identity, its roles and the
 * verdict, then the findings table with each fix. Like the expiry report: inline CSS only, a Content-Security-Policy
 * that forbids every fetch and script, everything escaped and scrubbed (I4).
 */
import { scrubValue } from '../logging/scrub.js';
import type { IdentityTargetRow } from '../commands/identity.js';
import { rolesText } from '../identity/audit.js';
import { escapeXml } from './escape.js';
import { selfContainedPage, writePage } from './html-page.js';

/** What the page is made from. */
export interface IdentityReportInput {
  targets: IdentityTargetRow[];
  /** Epoch ms the audit ran at. */
  generatedAt: number;
  /** Where the targets come from, e.g. the config file's path. */
  source?: string;
}

const VERDICT_COLOURS: Record<string, string> = {
  ok: '#2e7d32',
  findings: '#ef6c00',
  overPrivileged: '#6a1b9a',
  broken: '#c62828',
  error: '#616161',
};
const SEVERITY_COLOURS = { high: '#c62828', medium: '#ef6c00', low: '#1565c0' } as const;

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #212121; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 8px; }
.meta { color: #616161; margin: 0 0 18px; }
table { border-collapse: collapse; background: #fff; width: 100%; border: 1px solid #e0e0e0; margin-bottom: 18px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eeeeee; vertical-align: top; }
th { background: #f5f5f5; font-weight: 600; }
td.mono { font-family: ui-monospace, Consolas, monospace; font-size: 12px; word-break: break-all; }
.badge { color: #fff; background: var(--c); border-radius: 10px; padding: 1px 9px; font-size: 12px; font-weight: 600; }
@media print { body { background: #fff; margin: 0; } table { break-inside: avoid; } }
`;

const badge = (text: string, colour: string) => `<span class="badge" style="--c:${colour}">${escapeXml(text)}</span>`;

/** How the identities table labels a target that could not be audited (`error`; the scan report says `not checked`). */
export interface IdentitySectionOptions {
  failedLabel?: string;
}

/**
 * The identities table and the findings table (severity, target, kind, table, record, matched text, fix), everything
 * escaped: shared by this page and the identity section of the expiry report. `targets` must be scrubbed already.
 */
export function identitySectionHtml(targets: IdentityTargetRow[], opts: IdentitySectionOptions = {}): string[] {
  const failed = opts.failedLabel ?? 'error';
  const findings = targets.flatMap((t) => t.findings.map((f) => ({ target: t.name, ...f })));
  const body: string[] = [
    '<table class="identities"><thead><tr><th>Target</th><th>Identity</th><th>Name</th><th>Roles</th>' +
      '<th>Column profiles</th><th>Verdict</th></tr></thead><tbody>',
  ];
  for (const t of targets) {
    const verdict = t.verdict ?? failed;
    body.push(
      `<tr data-target="${escapeXml(t.name)}" data-verdict="${escapeXml(t.verdict ?? failed)}"><td>${escapeXml(t.name)}</td>` +
        `<td>${escapeXml(t.identity?.kind ?? '–')}</td><td>${escapeXml(t.identity?.name ?? '–')}</td>` +
        `<td>${escapeXml(rolesText(t.identity) || '–')}</td>` +
        `<td>${escapeXml(t.identity?.columnProfiles.join(', ') || '–')}</td>` +
        `<td>${badge(verdict, VERDICT_COLOURS[verdict] ?? '#616161')}${t.error ? ` ${escapeXml(t.error)}` : ''}</td></tr>`,
    );
  }
  body.push('</tbody></table>');
  if (findings.length === 0) {
    body.push('<p>None: nothing depends on SYSTEM and every identity holds what it should.</p>');
    return body;
  }
  body.push(
    '<table class="findings"><thead><tr><th>Severity</th><th>Target</th><th>Kind</th><th>Table</th><th>Record</th>' +
      '<th>Matched</th><th>Fix</th></tr></thead><tbody>',
  );
  for (const f of findings) {
    body.push(
      `<tr data-kind="${escapeXml(f.kind)}"><td>${badge(f.severity, SEVERITY_COLOURS[f.severity])}</td>` +
        `<td>${escapeXml(f.target)}</td><td>${escapeXml(f.kind)}</td><td>${escapeXml(f.table)}</td>` +
        `<td>${escapeXml(f.name ?? '–')}${f.recordId ? `<br><small>${escapeXml(f.recordId)}</small>` : ''}</td>` +
        `<td class="mono">${escapeXml(f.excerpt)}</td><td>${escapeXml(f.fix)}</td></tr>`,
    );
  }
  body.push('</tbody></table>');
  return body;
}

/** The whole page as one HTML string. */
export function identityReportHtml(input: IdentityReportInput): string {
  const targets = scrubValue(input.targets) as IdentityTargetRow[];
  const generated = new Date(input.generatedAt).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const count = targets.reduce((n, t) => n + t.findings.length, 0);
  const section = identitySectionHtml(targets);
  // The page's own headings sit between the two tables of the shared section.
  const split = section.indexOf('</tbody></table>') + 1;
  const body: string[] = [
    '<h1>Dataverse identity audit</h1>',
    `<p class="meta">${targets.length} target(s), ${count} finding(s), audited ${generated}${
      input.source ? ` from ${escapeXml(input.source)}` : ''
    } by certrotate.</p>`,
    '<h2>Identities</h2>',
    ...section.slice(0, split),
    '<h2>Findings</h2>',
    ...section.slice(split),
  ];
  return selfContainedPage(
    `certrotate identity audit ${new Date(input.generatedAt).toISOString().slice(0, 10)}`,
    CSS,
    body,
  );
}

/** Writes the page to `path` (mode 0644: no secret in it, meant to be shared). Returns the absolute path. */
export async function writeIdentityReport(path: string, input: IdentityReportInput): Promise<string> {
  return writePage(path, identityReportHtml(input));
}
