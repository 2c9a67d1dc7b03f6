/**
 * `scan --html FILE` against the sandbox, opened in headless Chromium (Debian `chromium` through playwright-core):
 * the page renders with no network and no script, the chart has a row for every target with due ones highlighted,
 * the page holds no secret, and stdout is the same scan document as without `--html`. The identity section shows each
 * power-pages target's Dataverse identity verdict and the findings table (escaped), and a failed read as "not
 * checked". Screenshots are kept in a temp directory for a person to look at.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, parseJson, startE2eSandbox, type Sandbox } from '../helpers/sandbox.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian installs chromium in the background on a fresh machine; wait for it rather than fail. */
async function chromiumReady(timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(CHROMIUM)) {
    if (Date.now() > deadline) throw new Error(`${CHROMIUM} is not installed (apt-get install chromium)`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

interface ScanDoc {
  formatVersion: number;
  targets: { name: string; status: string; thumbprint: string | null }[];
}

describe('scan --html FILE', () => {
  let sb: Sandbox;
  let dir: string;
  let file: string;
  let withHtml: Awaited<ReturnType<typeof cli>>;
  let plain: Awaited<ReturnType<typeof cli>>;
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    // The operator may read the identity tables, so the identity section has its verdicts and findings.
    sb = await startE2eSandbox({ identity: { operatorReads: true } });
    dir = await mkdtemp(join(tmpdir(), 'certrotate-scan-html-'));
    file = join(dir, 'expiry.html');
    plain = await cli(sb.configPath, ['--json', 'scan']);
    withHtml = await cli(sb.configPath, ['--json', 'scan', '--html', file]);
    await chromiumReady();
    browser = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'certrotate-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await sb?.stop();
  });

  it('writes the page and leaves the scan document on stdout as it was', async () => {
    expect(withHtml.code, withHtml.stderr).toBe(0);
    expect(withHtml.stderr).toContain(`Expiry report written to ${file}`);
    expect((await stat(file)).size).toBeGreaterThan(1000);
    const a = parseJson<ScanDoc>(plain);
    const b = parseJson<ScanDoc>(withHtml);
    // Same document; only the scan's own clock (days left) could differ, and both runs are seconds apart.
    expect(b.targets.map((t) => [t.name, t.status, t.thumbprint])).toEqual(
      a.targets.map((t) => [t.name, t.status, t.thumbprint]),
    );
    expect(Object.keys(b)).toEqual(Object.keys(a));
  });

  it('is self-contained and holds no secret', async () => {
    const html = await readFile(file, 'utf8');
    // The only URL is the SVG namespace; no stylesheet, font, image or script is referenced.
    const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
    expect(urls.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html).not.toContain(sb.operator.clientSecret);
    expect(html).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|eyJ[A-Za-z0-9_-]{20,}\./);
  });

  it('renders in Chromium with no request but the file, a chart row per target, due ones highlighted', async () => {
    const page = await browser!.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    expect(requests).toEqual([`file://${file}`]);

    const doc = parseJson<ScanDoc>(withHtml);
    const chart = page.locator('svg.expiry-chart');
    await expect(chart.isVisible()).resolves.toBe(true);
    const rows = chart.locator('g.row');
    expect(await rows.count()).toBe(doc.targets.length);
    for (const t of doc.targets) {
      const row = chart.locator(`g.row[data-target="${t.name}"]`);
      expect(await row.getAttribute('data-status')).toBe(t.status);
      const box = await row.boundingBox();
      expect(box, `row of ${t.name} is drawn`).not.toBeNull();
      expect(box!.height).toBeGreaterThan(10);
      if (t.status === 'due' || t.status === 'expired') {
        expect(await row.getAttribute('class')).toContain('highlighted');
        expect(await row.locator('rect.row-highlight').count()).toBe(1);
      }
      if (t.thumbprint) expect(await row.locator('circle.expiry').count()).toBe(1);
    }
    // The sandbox seeds two due targets (contoso-api, contoso-portal), one ok and one federated.
    expect(await chart.locator('g.row.highlighted').count()).toBe(2);
    expect(await chart.locator('g.row[data-target="northwind-portal"] text.no-bar').textContent()).toContain(
      'federated',
    );
    // The expiry table (the identity section's tables come after it).
    expect(await page.locator('table.targets tbody tr').count()).toBe(doc.targets.length);
    expect(await chart.locator('line.today').count()).toBe(1);

    const shot = join(await mkdtemp(join(tmpdir(), 'certrotate-screens-')), 'scan-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
    console.log(`scan --html screenshot: ${shot}`);
    await page.close();
  });

  it('shows the identity section: each power-pages verdict and the findings table, escaped', async () => {
    const page = await browser!.newPage();
    await page.goto(`file://${file}`);
    const section = page.locator('section.identity');
    await expect(section.isVisible()).resolves.toBe(true);
    const verdicts = section.locator('table.identities tbody tr');
    expect(await verdicts.count()).toBe(2);
    const contoso = section.locator('table.identities tr[data-target="contoso-portal"]');
    expect(await contoso.getAttribute('data-verdict')).toBe('findings');
    expect(await contoso.textContent()).toContain('SYSTEM');
    expect(
      await section.locator('table.identities tr[data-target="northwind-portal"]').getAttribute('data-verdict'),
    ).toBe('ok');
    // contoso-portal's five planted dependencies on SYSTEM, with severity, kind, table, record, excerpt and fix.
    const findings = section.locator('table.findings tbody tr');
    expect(await findings.count()).toBe(5);
    expect(await section.locator('table.findings thead th').allTextContents()).toEqual([
      'Severity',
      'Target',
      'Kind',
      'Table',
      'Record',
      'Matched',
      'Fix',
    ]);
    const template = section.locator('table.findings tr[data-kind="fetchxmlSystemFilter"]').first();
    const cells = await template.locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(['high', 'contoso-portal', 'fetchxmlSystemFilter', 'adx_webtemplates']);
    expect(cells[4]).toMatch(/^My Cases[0-9a-f-]{36}$/);
    // The excerpt is text on the page: FetchXML shows as written and never becomes an element.
    expect(cells[5]).toContain(
      `<condition attribute="ownerid" operator="eq" value="{${sb.identity.systemUserId.toUpperCase()}}"`,
    );
    expect(cells[6]).toContain('table permissions and web roles');
    expect(await page.locator('condition').count()).toBe(0);
    expect(await readFile(file, 'utf8')).toContain('&lt;condition attribute=&quot;ownerid&quot;');
    const shot = join(await mkdtemp(join(tmpdir(), 'certrotate-screens-')), 'scan-report-identity.png');
    await section.screenshot({ path: shot });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
    console.log(`scan --html identity section screenshot: ${shot}`);
    await page.close();
  });

  it('says "not checked" with the reason when Dataverse cannot be read, and scans as before', async () => {
    const denied = join(dir, 'identity-denied.html');
    sb.dataverseTables.denied.add('systemusers');
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli(sb.configPath, ['--json', 'scan', '--html', denied]);
    } finally {
      sb.dataverseTables.denied.delete('systemusers');
    }
    // The identity section never changes the scan: same exit code, same document.
    expect(r.code, r.stderr).toBe(plain.code);
    expect(parseJson<ScanDoc>(r).targets.map((t) => [t.name, t.status])).toEqual(
      parseJson<ScanDoc>(plain).targets.map((t) => [t.name, t.status]),
    );
    const page = await browser!.newPage();
    await page.goto(`file://${denied}`);
    const rows = page.locator('section.identity table.identities tbody tr');
    expect(await rows.count()).toBe(2);
    for (const name of ['contoso-portal', 'northwind-portal']) {
      const row = page.locator(`section.identity table.identities tr[data-target="${name}"]`);
      expect(await row.getAttribute('data-verdict')).toBe('not checked');
      expect(await row.textContent()).toContain('could not read systemusers: grant prvReadSystemuser');
    }
    await page.close();
  });

  it('names the option and the file when the page cannot be written', async () => {
    const r = await cli(sb.configPath, ['scan', '--html', join(dir, 'missing-dir', 'x.html')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/option --html: cannot write .*missing-dir.*ENOENT/);
    expect(r.stdout).toBe('');
  });
});
