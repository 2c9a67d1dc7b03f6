/**
 * What `scan --notify` tells, and what it remembers so a daily scheduled scan does not repeat itself (issue 15):
 * - `expiring` at the admin center's thresholds (90, 60, 30, 15, 7, 3, 1 days), once per target, key and threshold:
 *   a scan sends the lowest threshold the key has crossed, unless that one (or a lower one) was already sent;
 * - `expired` once per target and key;
 * - `stillParked` for a run parked longer than `notifyParkedAfter`, at most once a day.
 * Decisions are per channel, so a channel that was down is told on the next scan while the others are not told
 * twice. This file is pure: the caller reads and writes the {@link NotifySentRecord} through the state store.
 */
import { nextCommand } from '../next-step.js';
import type { Notification } from './events.js';

/** The days-left thresholds of `expiring`, highest first (the admin center's). */
export const EXPIRY_THRESHOLDS = [90, 60, 30, 15, 7, 3, 1] as const;

/** The name of the record in the state store. */
export const NOTIFY_SENT_RECORD = 'notify-sent';

const DAY = 86_400_000;

/** What was told, per `event|subject|channel`: the key and threshold it was about, and when. */
export interface NotifySentRecord {
  formatVersion: 1;
  sent: Record<string, { thumbprint?: string; threshold?: number; at: number }>;
}

/** A scan row as far as notices need it. */
export interface NoticeRow {
  name: string;
  thumbprint: string | null;
  expiresOn: string | null;
  daysLeft: number | null;
}

/** A run as far as `stillParked` needs it (the store's run summary). */
export interface NoticeRun {
  runId: string;
  target: string;
  outcome: string | null;
  state: string;
  /** When the run last moved: for a parked run, when it parked. */
  updatedAt: string;
}

/** One notice: the notification, the record key it is remembered under (per channel), and what it remembers. */
export interface Notice {
  notification: Notification;
  /** `event|subject`; the channel name is appended per channel. */
  key: string;
  remember: { thumbprint?: string; threshold?: number };
  /** Whether `channel` was already told (from the record). */
  alreadyTold(record: NotifySentRecord, channel: string, now: number): boolean;
}

/** The lowest threshold `daysLeft` has crossed, or undefined above 90 days (or once expired). */
export function lowestCrossed(daysLeft: number): number | undefined {
  if (daysLeft <= 0) return undefined;
  let lowest: number | undefined;
  for (const t of EXPIRY_THRESHOLDS) if (daysLeft <= t) lowest = t;
  return lowest;
}

/** An empty record, or the stored one when it has the expected shape (anything else starts afresh). */
export function readSentRecord(value: unknown): NotifySentRecord {
  const v = value as Partial<NotifySentRecord> | undefined;
  if (v && v.formatVersion === 1 && typeof v.sent === 'object' && v.sent !== null) {
    return { formatVersion: 1, sent: { ...v.sent } };
  }
  return { formatVersion: 1, sent: {} };
}

const PARKED = new Set(['awaitingOperator', 'awaitingRetirement']);

/** The notices of one scan: expiring/expired per row, stillParked per parked run. */
export function scanNotices(
  rows: readonly NoticeRow[],
  runs: readonly NoticeRun[],
  o: {
    now: number;
    parkedAfterMs: number;
    /** The command an expiry notice names (default `certrotate rotate NAME`; `discover` names `certrotate init`). */
    next?: (row: NoticeRow) => string;
    /** The global `--config` of the scan: the default commands (`rotate`, `resume`) carry it, as printed ones do. */
    configOption?: string;
  },
): Notice[] {
  const next = o.next ?? ((r: NoticeRow) => nextCommand(['rotate', r.name], o.configOption));
  const notices: Notice[] = [];
  for (const r of rows) {
    if (r.daysLeft === null || r.thumbprint === null || r.expiresOn === null) continue;
    const thumbprint = r.thumbprint;
    const facts = [
      { title: 'Thumbprint', value: thumbprint },
      { title: 'Expires', value: r.expiresOn },
    ];
    if (Date.parse(r.expiresOn) <= o.now) {
      notices.push({
        key: `expired|${r.name}`,
        remember: { thumbprint },
        notification: {
          event: 'expired',
          target: r.name,
          at: o.now,
          daysLeft: r.daysLeft,
          title: `Key for ${r.name} has expired`,
          facts,
          next: next(r),
        },
        // Once per key: a new key (after a rotation) that expires again is a new fact.
        alreadyTold: (rec, ch) => rec.sent[`expired|${r.name}|${ch}`]?.thumbprint === thumbprint,
      });
      continue;
    }
    const threshold = lowestCrossed(r.daysLeft);
    if (threshold === undefined) continue;
    notices.push({
      key: `expiring|${r.name}`,
      remember: { thumbprint, threshold },
      notification: {
        event: 'expiring',
        target: r.name,
        at: o.now,
        daysLeft: r.daysLeft,
        title: `Key for ${r.name} expires in ${r.daysLeft} day${r.daysLeft === 1 ? '' : 's'}`,
        facts: [...facts, { title: 'Threshold', value: `${threshold} days` }],
        next: next(r),
      },
      alreadyTold: (rec, ch) => {
        const prev = rec.sent[`expiring|${r.name}|${ch}`];
        // The same key told at this threshold or a lower one: nothing new. A new key starts the thresholds again.
        return prev !== undefined && prev.thumbprint === thumbprint && (prev.threshold ?? Infinity) <= threshold;
      },
    });
  }
  for (const run of runs) {
    if (run.outcome === null || !PARKED.has(run.outcome)) continue;
    const since = Date.parse(run.updatedAt);
    if (!Number.isFinite(since) || o.now - since < o.parkedAfterMs) continue;
    const hours = Math.floor((o.now - since) / 3_600_000);
    notices.push({
      key: `stillParked|${run.runId}`,
      remember: {},
      notification: {
        event: 'stillParked',
        target: run.target,
        runId: run.runId,
        at: o.now,
        title: `Rotation of ${run.target} has waited for an operator for ${hours} hours`,
        facts: [
          { title: 'State', value: run.state },
          { title: 'Parked since', value: run.updatedAt },
        ],
        next: nextCommand(['resume', run.runId], o.configOption),
      },
      // At most once a day per run and channel.
      alreadyTold: (rec, ch, now) => {
        const prev = rec.sent[`stillParked|${run.runId}|${ch}`];
        return prev !== undefined && now - prev.at < DAY;
      },
    });
  }
  return notices;
}
