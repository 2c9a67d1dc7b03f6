/**
 * The expiry timeline as an SVG: one row per target, a bar from today to its key's expiry, the rotation window
 * (`rotateBefore`) shaded before the expiry, a line for today, due and expired rows highlighted. Plain SVG with
 * native `<title>` tooltips: it renders with no script, in a browser, a mail client or a ticket attachment.
 */
import { escapeXml } from './escape.js';

/** One target as the chart (and the report) draws it: the scan row of DESIGN §5 plus its rotation window. */
export interface ExpiryRow {
  name: string;
  kind: string;
  credential: string;
  thumbprint: string | null;
  expiresOn: string | null;
  daysLeft: number | null;
  status: 'ok' | 'due' | 'expired' | 'broken' | 'blocked' | 'federated' | 'unknown' | 'inFlight' | 'orphaned';
  error?: string;
  /** inFlight / orphaned: which run, which keys, what to do. */
  detail?: string;
  /** The target's `rotateBefore`: how long before the expiry a rotation is due. */
  rotateBeforeMs?: number;
  /** Where the row comes from: a configured target, or a site found by `--environment` that no target lists. */
  source?: 'target' | 'site';
}

const DAY = 86_400_000;
const WIDTH = 1000;
const LABEL_W = 230;
const RIGHT_PAD = 110;
const ROW_H = 34;
const TOP = 44;
const BOTTOM = 28;

/** Fill colours by status; the page's legend uses the same. */
export const STATUS_COLOURS: Record<ExpiryRow['status'], string> = {
  ok: '#2e7d32',
  due: '#ef6c00',
  expired: '#c62828',
  broken: '#6d4c41',
  blocked: '#ad1457',
  federated: '#546e7a',
  unknown: '#757575',
  inFlight: '#1565c0',
  orphaned: '#8e24aa',
};

/** What a row without an expiry says instead of a bar. */
function noBarText(row: ExpiryRow): string {
  switch (row.status) {
    case 'federated':
      return 'federated credential: platform-managed, nothing to rotate';
    case 'broken':
      return `broken: no usable key${row.error ? `: ${row.error}` : ''}`;
    default:
      return `could not be read${row.error ? `: ${row.error}` : ''}`;
  }
}

/** The time range the chart spans: today and every expiry, with a margin. */
export function chartDomain(rows: ExpiryRow[], now: number): { from: number; to: number } {
  const times = rows.filter((r) => r.expiresOn).map((r) => Date.parse(r.expiresOn!));
  const earliest = Math.min(now, ...times);
  const latest = Math.max(now + 90 * DAY, ...times);
  const margin = Math.max(15 * DAY, (latest - earliest) * 0.04);
  return { from: earliest - margin, to: latest + margin };
}

/** Month ticks (every 1, 3, 6 or 12 months, whatever keeps about 6–12 labels). */
export function monthTicks(from: number, to: number): number[] {
  const months = (to - from) / (30 * DAY);
  const step = [1, 2, 3, 6, 12, 24].find((s) => months / s <= 12) ?? 48;
  const d = new Date(from);
  let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const ticks: number[] = [];
  while (t <= to) {
    const m = new Date(t).getUTCMonth();
    if (m % step === 0 || step === 1) ticks.push(t);
    const n = new Date(t);
    t = Date.UTC(n.getUTCFullYear(), n.getUTCMonth() + 1, 1);
  }
  return ticks;
}

/** Expired first, then by expiry (soonest first), then the rows without an expiry by name. */
export function chartOrder(rows: ExpiryRow[]): ExpiryRow[] {
  return [...rows].sort((a, b) => {
    const ta = a.expiresOn ? Date.parse(a.expiresOn) : Infinity;
    const tb = b.expiresOn ? Date.parse(b.expiresOn) : Infinity;
    return ta !== tb ? ta - tb : a.name.localeCompare(b.name);
  });
}

/** The SVG element of the expiry timeline for `rows` as of `now`. */
export function expiryChartSvg(rows: ExpiryRow[], now: number): string {
  const ordered = chartOrder(rows);
  const { from, to } = chartDomain(ordered, now);
  const plotW = WIDTH - LABEL_W - RIGHT_PAD;
  const x = (t: number) => LABEL_W + ((t - from) / (to - from)) * plotW;
  const height = TOP + ordered.length * ROW_H + BOTTOM;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="expiry-chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" ` +
      `height="${height}" role="img" aria-labelledby="chart-title" font-family="system-ui, sans-serif" font-size="12">`,
  );
  out.push(`<title id="chart-title">Key expiry timeline of ${ordered.length} target(s)</title>`);
  // Month grid and labels.
  for (const t of monthTicks(from, to)) {
    const d = new Date(t);
    const label = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${TOP - 8}" x2="${x(t).toFixed(1)}" y2="${height - BOTTOM}" stroke="#e0e0e0"/>`,
      `<text x="${x(t).toFixed(1)}" y="${TOP - 14}" text-anchor="middle" fill="#616161">${label}</text>`,
    );
  }
  ordered.forEach((row, i) => {
    const y = TOP + i * ROW_H;
    const mid = y + ROW_H / 2;
    const colour = STATUS_COLOURS[row.status];
    const highlighted = row.status === 'due' || row.status === 'expired';
    const tooltip =
      `${row.name} (${row.kind}): ${row.status}` +
      (row.expiresOn ? `, expires ${row.expiresOn.slice(0, 10)} (${row.daysLeft ?? '?'} days)` : '') +
      (row.thumbprint ? `, key ${row.thumbprint}` : '');
    out.push(
      `<g class="row status-${row.status}${highlighted ? ' highlighted' : ''}" data-target="${escapeXml(row.name)}" ` +
        `data-status="${row.status}">`,
      `<title>${escapeXml(tooltip)}</title>`,
    );
    if (highlighted) {
      out.push(
        `<rect class="row-highlight" x="0" y="${y + 1}" width="${WIDTH}" height="${ROW_H - 2}" fill="${colour}" ` +
          `fill-opacity="0.1" rx="4"/>`,
      );
    }
    const name = row.source === 'site' ? `${row.name} (site)` : row.name;
    out.push(
      `<text x="8" y="${mid - 2}" font-weight="600" fill="#212121">${escapeXml(name)}</text>`,
      `<text x="8" y="${mid + 11}" fill="#757575" font-size="10">${escapeXml(row.kind)}</text>`,
    );
    if (!row.expiresOn) {
      out.push(
        `<text class="no-bar" x="${LABEL_W + 4}" y="${mid + 4}" fill="${colour}" font-style="italic">` +
          `${escapeXml(noBarText(row))}</text>`,
      );
    } else {
      const end = Date.parse(row.expiresOn);
      if (row.rotateBeforeMs && row.rotateBeforeMs > 0) {
        const windowFrom = Math.max(from, end - row.rotateBeforeMs);
        out.push(
          `<rect class="rotation-window" x="${x(windowFrom).toFixed(1)}" y="${mid - 9}" ` +
            `width="${Math.max(1, x(end) - x(windowFrom)).toFixed(1)}" height="18" fill="${STATUS_COLOURS.due}" ` +
            `fill-opacity="0.18"/>`,
        );
      }
      const [a, b] = end >= now ? [now, end] : [end, now];
      out.push(
        `<rect class="bar" x="${x(a).toFixed(1)}" y="${mid - 5}" width="${Math.max(2, x(b) - x(a)).toFixed(1)}" ` +
          `height="10" rx="3" fill="${colour}"${end < now ? ' fill-opacity="0.45"' : ''}/>`,
        `<circle class="expiry" cx="${x(end).toFixed(1)}" cy="${mid}" r="6" fill="${colour}" stroke="#fff" stroke-width="2"/>`,
      );
      const days = row.daysLeft === null ? '' : row.daysLeft < 0 ? `${-row.daysLeft}d ago` : `${row.daysLeft}d`;
      out.push(
        `<text x="${(x(Math.max(end, now)) + 10).toFixed(1)}" y="${mid + 4}" fill="${colour}" font-weight="${highlighted ? 700 : 400}">` +
          `${row.expiresOn.slice(0, 10)} · ${days}</text>`,
      );
    }
    out.push('</g>');
  });
  // Today, drawn last so it stays visible over the bars.
  out.push(
    `<line class="today" x1="${x(now).toFixed(1)}" y1="${TOP - 8}" x2="${x(now).toFixed(1)}" y2="${height - BOTTOM + 6}" ` +
      `stroke="#1565c0" stroke-width="2" stroke-dasharray="4 3"/>`,
    `<text x="${x(now).toFixed(1)}" y="${height - 6}" text-anchor="middle" fill="#1565c0" font-weight="600">` +
      `today ${new Date(now).toISOString().slice(0, 10)}</text>`,
  );
  out.push('</svg>');
  return out.join('\n');
}
