/**
 * The `notify` config section: channels, each reading its URL (and signing secret) from environment variables so the
 * secrets stay out of the file (a Teams Workflows URL carries its credential in `sig`).
 */
import { z } from 'zod';
import { duration } from '../config/fields.js';
import { NOTIFY_EVENTS } from './events.js';

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name such as CERTROTATE_TEAMS_URL' });

/** One channel. */
export const notifyChannelSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
      error: "expected a channel name of letters, digits, '.', '_' or '-'",
    }),
    kind: z.enum(['teams', 'slack', 'webhook'], { error: 'expected kind to be teams, slack or webhook' }),
    /** The environment variable holding the channel's URL. */
    urlEnv: envName,
    /** The environment variable holding the signing secret (`whsec_…`); required for `webhook`. */
    secretEnv: envName.optional(),
    /** The events this channel receives. */
    events: z
      .array(z.enum(NOTIFY_EVENTS, { error: `expected one of ${NOTIFY_EVENTS.join(', ')}` }))
      .min(1, { error: 'expected at least one event' }),
    /** Only targets whose name matches one of these globs (`*`, `?`); default: every target. */
    targets: z.array(z.string().min(1)).optional(),
  })
  .refine((c) => c.kind !== 'webhook' || c.secretEnv !== undefined, {
    error: 'expected secretEnv for a webhook channel (its events are signed per Standard Webhooks)',
    path: ['secretEnv'],
  });

/** The whole section: channel names are unique. */
export const notifySchema = z.array(notifyChannelSchema).superRefine((channels, ctx) => {
  const seen = new Set<string>();
  channels.forEach((c, i) => {
    if (seen.has(c.name)) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate channel name; expected unique names` });
    }
    seen.add(c.name);
  });
});

/** How long a run may stay parked before `scan --notify` reminds (`stillParked`); default 24h. */
export const notifyParkedAfterSchema = duration;

/** One configured channel. */
export type NotifyChannelConfig = z.output<typeof notifyChannelSchema>;

/** `name` matches the glob (`*` any run of characters, `?` one). */
export function globMatches(glob: string, name: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

/** The channel wants this event for this target. */
export function subscribes(channel: NotifyChannelConfig, event: string, target: string): boolean {
  return (
    (channel.events as string[]).includes(event) &&
    (!channel.targets || channel.targets.some((g) => globMatches(g, target)))
  );
}
