import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { teamsMessage } from '../../../src/notify/channels/teams.js';
import { adminCenterSteps } from '../../../src/runs/observers/notify.js';

const runId = '20261201T230000Z-contoso-portal-abc123';
const message = teamsMessage({
  event: 'parked',
  target: 'contoso-portal',
  runId,
  at: Date.parse('2026-12-01T23:00:00Z'),
  title: 'contoso-portal: update the key in the Power Platform admin center',
  daysLeft: 14,
  facts: [
    { title: 'State', value: 'awaitingOperator' },
    { title: 'Old key', value: 'AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12' },
  ],
  steps: adminCenterSteps('contoso-portal', runId),
  next: `certrotate resume ${runId}`,
}) as { attachments: { content: Record<string, unknown> }[] };
const card = message.attachments[0]!.content;

describe('the Teams Adaptive Card', () => {
  it("validates against Microsoft's Adaptive Card JSON schema (vendored from npm, see the fixture's README)", async () => {
    const { id, ...schema } = JSON.parse(
      await readFile(new URL('../../fixtures/adaptive-card/adaptive-card.schema.json', import.meta.url), 'utf8'),
    ) as { id: string } & Record<string, unknown>;
    // The schema is draft-06 and names itself with draft-04's `id`, which Ajv 8 reads as `$id`.
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addMetaSchema(createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-06.json') as object);
    const validate = ajv.compile({ $id: id, ...schema });
    expect(validate(card), JSON.stringify(validate.errors)).toBe(true);
    // The check has teeth: an action is not a body element, and weights are the schema's own words.
    expect(validate({ ...card, body: [{ type: 'Action.Submit' }] })).toBe(false);
    expect(validate({ ...card, body: [{ type: 'TextBlock', text: 'x', weight: 'heavy' }] })).toBe(false);
  });

  it('renders with the adaptivecards renderer in headless Chromium (screenshot in test-results/notify/)', async () => {
    const require = createRequire(import.meta.url);
    const bundle = await readFile(require.resolve('adaptivecards/dist/adaptivecards.js'), 'utf8');
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 520, height: 700 } });
      await page.setContent(
        '<html><body style="font-family:sans-serif;background:#f5f5f5"><div id="card"></div></body></html>',
      );
      await page.addScriptTag({ content: bundle });
      const text = await page.evaluate((json) => {
        // Runs in the page; the project compiles without DOM types, so the page's globals are typed here.
        interface Rendered {
          innerText: string;
        }
        const page = globalThis as unknown as {
          AdaptiveCards: { AdaptiveCard: new () => { parse(j: unknown): void; render(): Rendered } };
          document: { getElementById(id: string): { appendChild(el: Rendered): void } | null };
        };
        const AC = page.AdaptiveCards;
        const c = new AC.AdaptiveCard();
        c.parse(json);
        const el = c.render();
        page.document.getElementById('card')!.appendChild(el);
        return el.innerText;
      }, card);
      expect(text).toContain('contoso-portal');
      expect(text).toContain(runId);
      expect(text).toContain('Update key');
      const dir = join(process.cwd(), 'test-results', 'notify');
      await mkdir(dir, { recursive: true });
      await page.locator('#card').screenshot({ path: join(dir, 'teams-parked-card.png') });
    } finally {
      await browser.close();
    }
  }, 30_000);
});
