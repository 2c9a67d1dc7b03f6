/**
 * Slack incoming webhook: `text` (the fallback for notifications) plus blocks (reference §3b). User text is escaped
 * (`& < >`) so a target name cannot inject `<!channel>`. Success is `200 ok`; errors are plain strings.
 */
import { headlineFacts, type Notification } from '../events.js';
import { fitted, SLACK_FIELDS_MAX, SLACK_SECTION_MAX, truncateList, truncateText } from '../limits.js';
import type { NotifierKind } from '../port.js';

/** Escapes mrkdwn control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The Slack message of a notification, with at most `maxItems` steps. */
export function slackMessage(n: Notification, maxItems = 50): Record<string, unknown> {
  const facts = headlineFacts(n);
  const lines = facts.map((f) => `*${escapeMrkdwn(f.title)}*\n${escapeMrkdwn(f.value)}`);
  const fields = truncateList(lines, SLACK_FIELDS_MAX).map((t) => ({ type: 'mrkdwn', text: truncateText(t, 2000) }));
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: truncateText(n.title, 150) } },
    { type: 'section', fields },
  ];
  if (n.steps?.length) {
    const text = truncateList(n.steps, maxItems)
      .map((s, i) => `${i + 1}. ${escapeMrkdwn(s)}`)
      .join('\n');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncateText(text, SLACK_SECTION_MAX) } });
  }
  if (n.next) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncateText(`Next: \`${escapeMrkdwn(n.next)}\``, SLACK_SECTION_MAX) },
    });
  }
  return { text: truncateText(escapeMrkdwn(n.title), SLACK_SECTION_MAX), blocks };
}

/** The Slack channel kind. */
export const slack: NotifierKind = {
  kind: 'slack',
  needsSecret: false,
  render(n) {
    // Slack documents no byte limit for the whole message; the block limits above bound it well below Teams'.
    const message = fitted((max) => slackMessage(n, max), 40 * 1024);
    return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) };
  },
  accepted: (status, body) => status === 200 && body.trim() === 'ok',
};
