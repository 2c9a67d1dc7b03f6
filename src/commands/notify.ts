/**
 * `notify test [--channel NAME]`: sends a sample notification to each configured channel (or the one named), so an
 * operator can check a URL and secret before a real event needs them. Exit 0 when every send was accepted, else 1.
 */
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { deliverTo } from '../notify/deliver.js';
import type { Notification } from '../notify/events.js';
import type { CommandContext } from './context.js';

/** The sample every channel receives. */
export function sampleNotification(now: number): Notification {
  return {
    event: 'parked',
    target: 'certrotate-test',
    at: now,
    title: 'certrotate test notification: this channel works',
    facts: [{ title: 'Sent by', value: 'certrotate notify test' }],
    next: 'certrotate runs',
  };
}

/** Sends the sample; prints `{notifications: [{channel, event, status}]}`. */
export async function notifyTestCommand(ctx: CommandContext, opts: { channel?: string }): Promise<number> {
  const { config } = await ctx.config();
  const channels = opts.channel ? config.notify.filter((c) => c.name === opts.channel) : config.notify;
  if (channels.length === 0) {
    throw new UsageError(
      opts.channel
        ? `option --channel: no notify channel named "${opts.channel}"; expected one of ${config.notify.map((c) => c.name).join(', ') || '(none configured)'}`
        : 'no notify channels configured; expected a `notify:` section in the configuration',
    );
  }
  const n = sampleNotification(Date.now());
  const results = await Promise.all(channels.map((c) => deliverTo(c, n)));
  ctx.print({ notifications: results }, () =>
    results.map((r) => `${r.channel}: ${r.status}${r.error ? ` (${r.error})` : ''}`).join('\n'),
  );
  return results.every((r) => r.status === 'sent') ? ExitCode.ok : ExitCode.error;
}
