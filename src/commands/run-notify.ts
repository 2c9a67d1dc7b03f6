/**
 * The notification observer for a command that drives a run (rotate, resume), wired to the run's state store and
 * logger; `withNotifications` adds the deliveries to the run's JSON document.
 */
import type { Config, TargetConfig } from '../config/schema.js';
import type { RunStore } from '../adapters/ports.js';
import type { DeliveryResult } from '../notify/deliver.js';
import type { RunDocument } from '../runs/runner.js';
import { notifyObserver } from '../runs/observers/notify.js';
import type { CommandContext } from './context.js';

/** The observer, or undefined when no channel is configured. */
export function runNotifier(
  config: Config,
  target: TargetConfig,
  runId: string,
  store: RunStore,
  warn?: (fields: Record<string, unknown>, message: string) => void,
  /** The global `--config` in use: the commands the notifications name carry it. */
  configOption?: string,
): ReturnType<typeof notifyObserver> | undefined {
  if (config.notify.length === 0) return undefined;
  return notifyObserver({
    channels: config.notify,
    runId,
    target: target.name,
    targetKind: target.kind,
    ...(configOption !== undefined ? { configOption } : {}),
    journalWritten: () => store.flush(),
    journal: async (r: DeliveryResult, at: number) => {
      await store.appendJournal({
        time: new Date(at).toISOString(),
        runId,
        target: target.name,
        step: 'notify',
        event: r.status === 'sent' ? 'notified' : 'notifyFailed',
        detail: `${r.event} → ${r.channel}: ${r.status}${r.error ? ` (${r.error})` : ''}`,
      });
      await store.flush();
    },
    ...(warn ? { warn } : {}),
  });
}

/**
 * {@link runNotifier} for a command run by an operator or a pipeline: warnings go to the command's logger and the
 * commands the notifications name carry the invocation's `--config`.
 */
export function commandNotifier(
  ctx: CommandContext,
  config: Config,
  target: TargetConfig,
  runId: string,
  store: RunStore,
): ReturnType<typeof notifyObserver> | undefined {
  return runNotifier(config, target, runId, store, (f, m) => ctx.logger.warn(f, m), ctx.options.config);
}

/** The run's document with `notifications: [{channel, event, status}]` once the deliveries are done. */
export async function withNotifications(
  doc: RunDocument,
  notifier: ReturnType<typeof notifyObserver> | undefined,
): Promise<RunDocument & { notifications?: Pick<DeliveryResult, 'channel' | 'event' | 'status'>[] }> {
  if (!notifier) return doc;
  const results = await notifier.results();
  return {
    ...doc,
    notifications: results.map((r) => ({
      channel: r.channel,
      event: r.event,
      status: r.status,
      ...(r.error ? { error: r.error } : {}),
    })),
  };
}
