/**
 * `identity --notify`: one `identityFindings` notification per audited target with findings — its verdict, the
 * counts by severity, the most severe findings with their fixes (the rest as "and N more") and the command that shows
 * them all. Sent to the channels subscribed to `identityFindings` for that target; a failure is a result, never a throw.
 */
import type { Finding, Severity } from '../identity/finding.js';
import { nextCommand } from '../next-step.js';
import { subscribes, type NotifyChannelConfig } from './config.js';
import { deliverTo, type DeliveryOptions, type DeliveryResult } from './deliver.js';
import type { Notification } from './events.js';
import { truncateList, truncateText } from './limits.js';

/** What a notification needs of one audited target (a row of `identity --json`). */
export interface IdentityNoticeRow {
  name: string;
  verdict: string | null;
  identity: { kind: string; name: string | null } | null;
  findings: readonly Finding[];
}

/** At most this many findings are listed; a channel's own size limit may cut further. */
export const IDENTITY_FINDINGS_LISTED = 5;

const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];

function findingLine(f: Finding): string {
  const record = f.recordId ? ` ${f.name ?? ''} (${f.recordId})` : '';
  const line = `${f.severity} ${f.kind} in ${f.table}${record}: ${truncateText(f.excerpt, 200)}`;
  return f.kind === 'unreadableTable' ? line : `${line} — fix: ${truncateText(f.fix, 300)}`;
}

/**
 * The notification of one target's audit, or undefined when it has no findings (or could not be audited); its
 * command carries `configOption`, the `--config` of the audit, as printed commands do.
 */
export function identityNotification(
  row: IdentityNoticeRow,
  at: number,
  listed = IDENTITY_FINDINGS_LISTED,
  configOption?: string,
): Notification | undefined {
  if (row.findings.length === 0) return undefined;
  const counts = SEVERITIES.map((s) => `${s} ${row.findings.filter((f) => f.severity === s).length}`).join(', ');
  // Most severe first, so the head that survives truncation is what matters most.
  const sorted = [...row.findings].sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
  const lines = truncateList(sorted.map(findingLine), listed);
  const cut = sorted.length > listed;
  const n = row.findings.length;
  return {
    event: 'identityFindings',
    target: row.name,
    at,
    title: `Identity audit of ${row.name}: ${row.verdict ?? 'findings'}, ${n} finding${n === 1 ? '' : 's'}`,
    facts: [
      { title: 'Verdict', value: row.verdict ?? 'unknown' },
      ...(row.identity
        ? [
            {
              title: 'Identity',
              value: row.identity.name ? `${row.identity.kind} ${row.identity.name}` : row.identity.kind,
            },
          ]
        : []),
      { title: 'Findings', value: counts },
      ...lines.map((value, i) => ({ title: cut && i === lines.length - 1 ? 'More' : `Finding ${i + 1}`, value })),
    ],
    next: nextCommand(['identity', row.name], configOption),
  };
}

/** One delivery as the identity document lists it. */
export type IdentityDelivery = Pick<DeliveryResult, 'channel' | 'event' | 'status' | 'error'> & { target: string };

/** Sends each target's findings to the channels subscribed to `identityFindings` for it. Never rejects. */
export async function notifyIdentityFindings(
  channels: readonly NotifyChannelConfig[],
  rows: readonly IdentityNoticeRow[],
  delivery: DeliveryOptions = {},
  /** The global `--config` of the audit: the command each notification names carries it. */
  configOption?: string,
): Promise<IdentityDelivery[]> {
  const at = delivery.now?.() ?? Date.now();
  const sends = rows.flatMap((row) => {
    const n = identityNotification(row, at, IDENTITY_FINDINGS_LISTED, configOption);
    if (!n) return [];
    return channels
      .filter((c) => subscribes(c, n.event, n.target))
      .map(async (c) => ({ target: n.target, result: await deliverTo(c, n, delivery) }));
  });
  return (await Promise.all(sends)).map(({ target, result }) => ({
    target,
    channel: result.channel,
    event: result.event,
    status: result.status,
    ...(result.error ? { error: result.error } : {}),
  }));
}
