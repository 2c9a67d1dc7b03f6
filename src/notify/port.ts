/**
 * The notifier port: one channel kind (Teams, Slack, a signed webhook) renders a {@link Notification} into the HTTP
 * request its service accepts, and says whether the service's answer means "accepted". Delivery (retries, the time
 * budget) is shared in src/notify/deliver.ts, so a channel file holds only its format.
 */
import type { Notification } from './events.js';

/** The request a channel sends: always a POST of `body` to the channel's URL. */
export interface RenderedRequest {
  headers: Record<string, string>;
  /** The exact bytes sent (a webhook signature covers exactly these). */
  body: string;
}

/** What a channel's render needs besides the notification. */
export interface RenderContext {
  /** The signing secret (`whsec_…`), for channels that sign. */
  secret?: string;
  /** A unique id for this notification; reused on every retry so a receiver can dedupe. */
  id: string;
  /** Epoch ms of this attempt (a webhook signs it). */
  now: number;
}

/** One channel kind. */
export interface NotifierKind {
  kind: 'teams' | 'slack' | 'webhook';
  /** A signing secret is required (`secretEnv`). */
  needsSecret: boolean;
  render(notification: Notification, ctx: RenderContext): RenderedRequest;
  /** The service's answer means it took the message (Teams: 202, which does not confirm posting). */
  accepted(status: number, body: string): boolean;
}
