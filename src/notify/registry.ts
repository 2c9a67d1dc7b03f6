/** The channel kinds, listed once: the config schema and the sender both read this list. */
import { slack } from './channels/slack.js';
import { teams } from './channels/teams.js';
import { webhook } from './channels/webhook.js';
import type { NotifierKind } from './port.js';

/** Every notifier kind certrotate can send to. */
export const NOTIFIER_KINDS: readonly NotifierKind[] = [teams, slack, webhook];

/** The kind named `kind`. */
export function notifierKind(kind: string): NotifierKind | undefined {
  return NOTIFIER_KINDS.find((k) => k.kind === kind);
}
