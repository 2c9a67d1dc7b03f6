import { describe, expect, it } from 'vitest';
import {
  chartDomain,
  chartOrder,
  expiryChartSvg,
  monthTicks,
  type ExpiryRow,
} from '../../../src/report/expiry-chart.js';
import { scanReportHtml } from '../../../src/report/scan-report.js';

const NOW = Date.parse('2026-11-28T08:00:00.000Z');
const DAY = 86_400_000;
const iso = (days: number) => new Date(NOW + days * DAY).toISOString();

const row = (name: string, status: ExpiryRow['status'], days: number | null, extra: Partial<ExpiryRow> = {}) =>
  ({
    name,
    kind: 'keyvault',
    credential: days === null ? 'unknown' : 'certificate',
    thumbprint: days === null ? null : name.toUpperCase().padEnd(40, '0').slice(0, 40),
    expiresOn: days === null ? null : iso(days),
    daysLeft: days,
    status,
    ...extra,
  }) satisfies ExpiryRow;

const rows: ExpiryRow[] = [
  row('ok-api', 'ok', 400, { rotateBeforeMs: 60 * DAY }),
  row('due-api', 'due', 30, { rotateBeforeMs: 60 * DAY }),
  row('gone-api', 'expired', -5),
  row('portal', 'federated', null, { kind: 'power-pages', credential: 'federated' }),
  row('broken', 'unknown', null, { error: 'forbidden: app not readable' }),
];

/** The `<g class="row …">` element of a target in the SVG text. */
function rowGroup(svg: string, name: string): string {
  const start = svg.indexOf(`data-target="${name}"`);
  expect(start, `row for ${name}`).toBeGreaterThan(0);
  return svg.slice(svg.lastIndexOf('<g ', start), svg.indexOf('</g>', start));
}

/** Numeric attribute of the first element `tag` with `cls` in a fragment. */
function attr(fragment: string, cls: string, name: string): number {
  const el = new RegExp(`<[a-z]+ class="${cls}"[^>]*>`).exec(fragment)?.[0] ?? '';
  return Number(new RegExp(`\\b${name}="([-\\d.]+)"`).exec(el)?.[1]);
}

describe('expiry chart', () => {
  it('spans today and every expiry, expired first, rows without expiry last', () => {
    const { from, to } = chartDomain(rows, NOW);
    expect(from).toBeLessThan(NOW - 5 * DAY);
    expect(to).toBeGreaterThan(NOW + 400 * DAY);
    expect(chartOrder(rows).map((r) => r.name)).toEqual(['gone-api', 'due-api', 'ok-api', 'broken', 'portal']);
  });

  it('labels months at a readable step', () => {
    const ticks = monthTicks(NOW, NOW + 800 * DAY);
    expect(ticks.length).toBeGreaterThanOrEqual(6);
    expect(ticks.length).toBeLessThanOrEqual(13);
    for (const t of ticks) expect(new Date(t).getUTCDate()).toBe(1);
  });

  it('draws one row per target; due and expired highlighted; bars end at the expiry, after today or before it', () => {
    const svg = expiryChartSvg(rows, NOW);
    expect(svg.match(/<g class="row /g)).toHaveLength(rows.length);
    for (const name of ['due-api', 'gone-api']) expect(rowGroup(svg, name)).toContain('row-highlight');
    for (const name of ['ok-api', 'portal', 'broken']) expect(rowGroup(svg, name)).not.toContain('row-highlight');

    const today = Number(/<line class="today" x1="([\d.]+)"/.exec(svg)![1]);
    const ok = rowGroup(svg, 'ok-api');
    expect(attr(ok, 'bar', 'x')).toBeCloseTo(today, 0);
    expect(attr(ok, 'bar', 'x') + attr(ok, 'bar', 'width')).toBeCloseTo(attr(ok, 'expiry', 'cx'), 0);
    const gone = rowGroup(svg, 'gone-api');
    expect(attr(gone, 'expiry', 'cx')).toBeLessThan(today);
    // The rotation window ends at the expiry and is 60 days wide: wider for the due row than 0, inside the plot.
    const due = rowGroup(svg, 'due-api');
    expect(attr(due, 'rotation-window', 'x') + attr(due, 'rotation-window', 'width')).toBeCloseTo(
      attr(due, 'expiry', 'cx'),
      0,
    );
    expect(attr(due, 'rotation-window', 'x')).toBeLessThan(today);
    expect(rowGroup(svg, 'broken')).toContain('could not be read: forbidden: app not readable');
    expect(rowGroup(svg, 'portal')).toContain('nothing to rotate');
  });
});

describe('scan report page', () => {
  it('is one self-contained document: inline style, a CSP that forbids fetches, no script', () => {
    const html = scanReportHtml({ rows, generatedAt: NOW, source: '/etc/certrotate.yaml' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/<script|<link|src=|@import|url\(/i);
    expect((html.match(/https?:\/\/[^\s"'<>]+/g) ?? []).every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).toContain('<svg');
    expect(html.match(/<tr class="status-/g)).toHaveLength(rows.length);
    expect(html).toMatch(/<b>1<\/b>expired/);
    expect(html).toMatch(/<b>1<\/b>due for rotation/);
    expect(html).toContain('scanned 2026-11-28 08:00 UTC from /etc/certrotate.yaml');
  });

  it('escapes every name and message', () => {
    const html = scanReportHtml({
      rows: [row('<script>alert(1)</script>', 'due', 10, { error: 'a & "b"' })],
      generatedAt: NOW,
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('a &amp; &quot;b&quot;');
  });

  it('scrubs secrets that reached a row (an error message quoting a token), like every other output', () => {
    const token = `eyJhbGciOiJSUzI1NiJ9.${'eyJzdWIiOiJ4In0'.repeat(4)}.${'c2lnbmF0dXJl'.repeat(6)}`;
    const html = scanReportHtml({
      rows: [row('leaky', 'unknown', null, { error: `denied for ${token}` })],
      generatedAt: NOW,
    });
    expect(html).not.toContain(token);
    expect(html).toContain('denied for');
  });

  it('marks sites found by --environment that no target lists', () => {
    const html = scanReportHtml({
      rows: [row('unlisted-site', 'due', 12, { kind: 'power-pages', source: 'site' })],
      generatedAt: NOW,
    });
    expect(html).toContain('unlisted-site (site)');
    expect(html).toContain('(site, not configured)');
  });
});
