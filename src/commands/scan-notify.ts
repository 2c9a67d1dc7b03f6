/**
 * `scan --notify`, the scheduled-pipeline form of notifications: after the scan, sends `expiring`, `expired` and
 * `stillParked` (src/notify/scan-notices.ts) to the configured channels and remembers what each channel was told in
 * the state backend's `notify-sent` record, so it works alike with file and azure-blob state and a daily scan does
 * not repeat itself. Nothing here changes scan's exit code: a failed delivery, an unreadable record or a refused
 * write is logged (and journaled for a run's reminder) and reported in `notifications`.
 */
import type { RunStore } from '../adapters/ports.js';
import type { Config } from '../config/schema.js';
import { subscribes } from '../notify/config.js';
import { deliverTo, type DeliveryOptions, type DeliveryResult } from '../notify/deliver.js';
import {
  NOTIFY_SENT_RECORD,
  readSentRecord,
  scanNotices,
  type NoticeRow,
  type NotifySentRecord,
} from '../notify/scan-notices.js';
import { UsageError, type CommandContext } from './context.js';

/** One delivery as the scan document lists it. */
export type ScanDelivery = Pick<DeliveryResult, 'channel' | 'event' | 'status' | 'error'> & { target: string };

/** Checks the channels before the scan reads anything, and returns the sender to call with the scan's rows. */
export function scanNotifier(
  ctx: Pick<CommandContext, 'logger'>,
  config: Config,
  store: RunStore,
  delivery: DeliveryOptions = {},
  o: {
    /** Also remind of runs parked too long (`stillParked`); `discover` leaves that to `scan`. Default true. */
    stillParked?: boolean;
    /** The command an expiry notice names (default `certrotate rotate NAME`). */
    next?: (row: NoticeRow) => string;
    /** The global `--config` in use: the default commands the notices name carry it. */
    configOption?: string;
  } = {},
): (rows: readonly NoticeRow[]) => Promise<ScanDelivery[]> {
  if (config.notify.length === 0) {
    throw new UsageError('option --notify: no notify channels configured; expected a `notify:` section in the config');
  }
  const log = ctx.logger;
  return async (rows) => {
    const now = delivery.now?.() ?? Date.now();
    let record: NotifySentRecord;
    try {
      record = readSentRecord(await store.readRecord(NOTIFY_SENT_RECORD));
    } catch (err) {
      // Without the record every threshold would be sent again: better to tell nothing this time than to spam.
      log.error({ err: (err as Error).message }, 'scan --notify: cannot read what was already told; sending nothing');
      return [];
    }
    const runs =
      o.stillParked === false
        ? []
        : await store.listRuns().catch((err: Error) => {
            log.warn({ err: err.message }, 'scan --notify: cannot list runs; no stillParked reminders');
            return [];
          });
    const notices = scanNotices(rows, runs, {
      now,
      parkedAfterMs: config.notifyParkedAfter,
      ...(o.next ? { next: o.next } : {}),
      ...(o.configOption !== undefined ? { configOption: o.configOption } : {}),
    });
    const sends = notices.flatMap((notice) =>
      config.notify
        .filter((c) => subscribes(c, notice.notification.event, notice.notification.target))
        .filter((c) => !notice.alreadyTold(record, c.name, now))
        .map(async (channel) => ({ notice, result: await deliverTo(channel, notice.notification, delivery) })),
    );
    const results = await Promise.all(sends);
    for (const { notice, result } of results) {
      const n = notice.notification;
      if (result.status === 'sent') {
        record.sent[`${notice.key}|${result.channel}`] = { ...notice.remember, at: now };
      } else {
        log.warn(
          { channel: result.channel, event: result.event, target: n.target, error: result.error },
          'notification not delivered',
        );
      }
      // A reminder about a run belongs in that run's audit trail; an expiry has no run to journal into.
      if (n.runId) {
        await store
          .appendJournal({
            time: new Date(now).toISOString(),
            runId: n.runId,
            target: n.target,
            step: 'notify',
            event: result.status === 'sent' ? 'notified' : 'notifyFailed',
            detail: `${result.event} → ${result.channel}: ${result.status}${result.error ? ` (${result.error})` : ''}`,
          })
          .catch((err: Error) => log.warn({ err: err.message }, 'cannot journal a notification'));
      }
    }
    if (results.some((r) => r.result.status === 'sent')) {
      try {
        await store.writeRecord(NOTIFY_SENT_RECORD, record);
        await store.flush();
      } catch (err) {
        log.error(
          { err: (err as Error).message },
          'scan --notify: cannot remember what was told; the next scan repeats it',
        );
      }
    }
    return results.map(({ notice, result }) => ({
      target: notice.notification.target,
      channel: result.channel,
      event: result.event,
      status: result.status,
      ...(result.error ? { error: result.error } : {}),
    }));
  };
}
