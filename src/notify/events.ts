/**
 * What certrotate tells people (issue 15): the notification event names, and one notification as every channel
 * renders it. A notification carries names, ids, thumbprints, days and commands only: never key material or secrets.
 */

/** Every event a channel can subscribe to. `succeeded` is opt-in: list it in `events` to receive it. */
export const NOTIFY_EVENTS = [
  'expiring',
  'expired',
  'parked',
  'stillParked',
  'failed',
  'rolledBack',
  'superseded',
  'succeeded',
  'identityFindings',
] as const;

/** One notification event name. */
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

/** One notification, channel-neutral: each channel renders it in its own format. */
export interface Notification {
  event: NotifyEventName;
  /** The target's name. */
  target: string;
  /** One line saying what happened, e.g. `Key for contoso-portal expires in 14 days`. */
  title: string;
  /** Epoch ms the event happened. */
  at: number;
  /** The run it is about, when there is one. */
  runId?: string;
  /** Days until the current key expires (negative once expired). */
  daysLeft?: number;
  /** The exact command that moves things on, e.g. `certrotate resume <runId>`. */
  next?: string;
  /** Label/value pairs for the facts table (thumbprints, step, error code…). */
  facts: { title: string; value: string }[];
  /** Steps for a person to follow (the admin-center steps of a parked Power Pages run). */
  steps?: string[];
}

/**
 * The facts every channel shows first — target, event, days left, run — then the notification's own. One list, so
 * Teams and Slack cannot drift apart in what they tell.
 */
export function headlineFacts(n: Notification): { title: string; value: string }[] {
  return [
    { title: 'Target', value: n.target },
    // The event's name, so a reader (and a receiver's filter) can tell a reminder from a failure without the title.
    { title: 'Event', value: n.event },
    ...(n.daysLeft !== undefined ? [{ title: 'Days left', value: String(n.daysLeft) }] : []),
    ...(n.runId ? [{ title: 'Run', value: n.runId }] : []),
    ...n.facts,
  ];
}
