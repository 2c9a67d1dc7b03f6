/**
 * Payload limits of the channels (reference §3a–3c) and the truncation that keeps a notification under them: a long
 * list keeps its head and says "and N more", so the reader knows something was left out.
 */

/** A Teams Workflows message can be about 28 KB; we stay clearly below it. */
export const TEAMS_MAX_BYTES = 27 * 1024;
/** Standard Webhooks advises a body under 20 KB. */
export const WEBHOOK_MAX_BYTES = 20 * 1024;
/** Slack section text is at most 3000 characters. */
export const SLACK_SECTION_MAX = 3000;
/** Slack allows at most 10 fields per section. */
export const SLACK_FIELDS_MAX = 10;

/** The first `max` items, plus "and N more" when items were left out. */
export function truncateList(items: readonly string[], max: number): string[] {
  if (items.length <= max) return [...items];
  const keep = Math.max(0, max - 1);
  return [...items.slice(0, keep), `and ${items.length - keep} more`];
}

/** `text` cut to at most `max` characters, ending in `…` when cut. */
export function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** The UTF-8 size of a JSON body. */
export function byteSize(body: string): number {
  return Buffer.byteLength(body, 'utf8');
}

/**
 * Renders with fewer and fewer list items until the body fits `maxBytes` (the facts and steps are what grows; the
 * title and next command always stay).
 */
export function fitted<T>(render: (maxItems: number) => T, maxBytes: number, start = 50): T {
  for (let n = start; n > 1; n = Math.floor(n / 2)) {
    const out = render(n);
    if (byteSize(JSON.stringify(out)) <= maxBytes) return out;
  }
  return render(1);
}
