/**
 * The notification observer: tells the configured channels when a run parks (with the exact next command and, for
 * Power Pages, the admin-center steps), fails, rolls back, is superseded or (opt-in) succeeds. Sending starts after
 * the event's journal entry is written and runs beside the rotation: `onEvent` only queues, so no step waits for a
 * receiver; the command awaits `results()` (bounded by the delivery budget) after the run. A failed delivery is logged and journaled, never thrown.
 */
import { nextCommand } from '../../next-step.js';
import type { NotifyChannelConfig } from '../../notify/config.js';
import { notifyAll, type DeliveryOptions, type DeliveryResult } from '../../notify/deliver.js';
import type { Notification, NotifyEventName } from '../../notify/events.js';
import type { EndedEvent, ParkedEvent, RunEvent, RunObserver } from '../events.js';

/** What the observer needs to know about the run it follows. */
export interface NotifyObserverOptions {
  channels: readonly NotifyChannelConfig[];
  runId: string;
  target: string;
  /** The target's kind: a parked Power Pages run gets the admin-center steps. */
  targetKind: 'keyvault' | 'power-pages';
  /**
   * The global `--config` of the invocation (not part of the notify config): the command a notification names
   * carries it, as every printed command does, so whoever acts on it acts on the same configuration.
   */
  configOption?: string;
  /** Resolves once the journal lines written so far are stored (the state store's flush). */
  journalWritten?: () => Promise<void>;
  /** Records a delivery's result in the run's journal. */
  journal?: (result: DeliveryResult, at: number) => Promise<void>;
  /** Logs a failed delivery. */
  warn?: (fields: Record<string, unknown>, message: string) => void;
  delivery?: DeliveryOptions;
}

/**
 * The admin-center steps an operator follows for a Power Pages run parked at Update key; the last one is the resume
 * command, with `configOption` (the `--config` in use) when it is not the default.
 */
export function adminCenterSteps(target: string, runId: string, configOption?: string): string[] {
  return [
    'Open the Power Platform admin center: https://admin.powerplatform.microsoft.com',
    `Manage → Power Pages → the site of target ${target}`,
    'Security → Website Authentication Key → Update key → OK (the site restarts: 5–15 minutes)',
    'If the admin center reports that the update failed, press Retry Authentication Key Update there',
    `Then run: ${nextCommand(['resume', runId], configOption)}`,
  ];
}

const ENDED_EVENTS: Partial<Record<EndedEvent['outcome'], NotifyEventName>> = {
  failed: 'failed',
  rolledBack: 'rolledBack',
  superseded: 'superseded',
  succeeded: 'succeeded',
};

/** The notification of a run event, or undefined for events nobody is told about. */
export function notificationOf(
  event: RunEvent,
  o: Pick<NotifyObserverOptions, 'runId' | 'target' | 'targetKind' | 'configOption'>,
): Notification | undefined {
  const thumbs = [
    ...(event.oldThumbprint ? [{ title: 'Old key', value: event.oldThumbprint }] : []),
    ...(event.newThumbprint ? [{ title: 'New key', value: event.newThumbprint }] : []),
  ];
  if (event.type === 'parked') return parkedNotification(event, o, thumbs);
  if (event.type !== 'ended') return undefined;
  const name = ENDED_EVENTS[event.outcome];
  if (!name) return undefined;
  const titles: Record<string, string> = {
    failed: `Rotation of ${o.target} failed${event.failure ? ` at ${event.failure.step}` : ''}`,
    rolledBack: `Rotation of ${o.target} was rolled back`,
    superseded: `Rotation of ${o.target} was superseded by another run`,
    succeeded: `Rotation of ${o.target} succeeded`,
  };
  return {
    event: name,
    target: o.target,
    runId: o.runId,
    at: event.at,
    title: titles[name]!,
    facts: [
      { title: 'Outcome', value: event.outcome },
      ...(event.failure
        ? [
            { title: 'Step', value: event.failure.step },
            { title: 'Code', value: event.failure.code },
            { title: 'Error', value: event.failure.message },
          ]
        : []),
      ...(event.note ? [{ title: 'Note', value: event.note }] : []),
      ...thumbs,
    ],
    next: nextCommand(['show', o.runId], o.configOption),
  };
}

function parkedNotification(
  event: ParkedEvent,
  o: Pick<NotifyObserverOptions, 'runId' | 'target' | 'targetKind' | 'configOption'>,
  thumbs: { title: string; value: string }[],
): Notification {
  const platform = o.targetKind === 'power-pages' && event.reason === 'platformKeyUpdate';
  return {
    event: 'parked',
    target: o.target,
    runId: o.runId,
    at: event.at,
    title: platform
      ? `${o.target}: update the key in the Power Platform admin center`
      : `Rotation of ${o.target} waits for an operator`,
    facts: [
      { title: 'State', value: event.state },
      ...(event.reason ? [{ title: 'Reason', value: event.reason }] : []),
      { title: 'What to do', value: event.message },
      ...thumbs,
    ],
    ...(platform ? { steps: adminCenterSteps(o.target, o.runId, o.configOption) } : {}),
    next: nextCommand(['resume', o.runId], o.configOption),
  };
}

/** A run observer that notifies; `results()` gives every delivery's result once they are done. */
export function notifyObserver(o: NotifyObserverOptions): Required<RunObserver> & {
  results(): Promise<DeliveryResult[]>;
} {
  const pending: Promise<DeliveryResult[]>[] = [];
  return {
    onEvent(event) {
      const n = notificationOf(event, o);
      if (!n || o.channels.length === 0) return;
      pending.push(
        (async () => {
          // After the journal entry: the audit trail records the event before anyone is told about it.
          await o.journalWritten?.().catch(() => undefined);
          const results = await notifyAll(o.channels, n, o.delivery);
          for (const r of results) {
            if (r.status === 'failed')
              o.warn?.({ channel: r.channel, event: r.event, error: r.error }, 'notification not delivered');
            await o.journal?.(r, Date.now()).catch(() => undefined);
          }
          return results;
        })().catch(() => []),
      );
    },
    // Nothing of the run's own record waits for a receiver: the command collects `results()` after the run.
    flush: () => Promise.resolve(),
    async results() {
      return (await Promise.all(pending)).flat();
    },
  };
}
