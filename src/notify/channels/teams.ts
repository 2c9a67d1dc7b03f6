/**
 * Teams: an Adaptive Card (version 1.4, within Teams' 1.5 ceiling) inside the message envelope the Workflows trigger
 * "When a Teams webhook request is received" accepts (reference §3a). Only elements Teams renders are used, and no
 * Action.Submit. Workflows answers 202 before it posts: "accepted", not "delivered".
 */
import { headlineFacts, type Notification } from '../events.js';
import { fitted, TEAMS_MAX_BYTES, truncateList, truncateText } from '../limits.js';
import type { NotifierKind } from '../port.js';

/** The Adaptive Card of a notification, with at most `maxItems` facts and steps. */
export function adaptiveCard(n: Notification, maxItems = 50): Record<string, unknown> {
  const facts = headlineFacts(n);
  const shown = facts.slice(0, maxItems);
  if (facts.length > shown.length) shown.push({ title: '…', value: `and ${facts.length - shown.length} more` });
  const body: Record<string, unknown>[] = [
    { type: 'TextBlock', text: truncateText(n.title, 500), weight: 'bolder', size: 'medium', wrap: true },
    { type: 'FactSet', facts: shown.map((f) => ({ title: f.title, value: truncateText(f.value, 1000) })) },
  ];
  if (n.steps?.length) {
    body.push({ type: 'TextBlock', text: 'What to do', weight: 'bolder', wrap: true, spacing: 'medium' });
    truncateList(n.steps, maxItems).forEach((s, i) =>
      body.push({ type: 'TextBlock', text: `${i + 1}. ${truncateText(s, 1000)}`, wrap: true, spacing: 'small' }),
    );
  }
  if (n.next) {
    body.push({ type: 'TextBlock', text: 'Next command', weight: 'bolder', wrap: true, spacing: 'medium' });
    body.push({ type: 'TextBlock', text: n.next, fontType: 'monospace', wrap: true });
  }
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body,
  };
}

/** The Workflows message envelope around a card. */
export function teamsMessage(n: Notification, maxItems = 50): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: adaptiveCard(n, maxItems) },
    ],
  };
}

/** The Teams channel kind. */
export const teams: NotifierKind = {
  kind: 'teams',
  needsSecret: false,
  render(n) {
    const message = fitted((max) => teamsMessage(n, max), TEAMS_MAX_BYTES);
    return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) };
  },
  accepted: (status) => status >= 200 && status < 300,
};
