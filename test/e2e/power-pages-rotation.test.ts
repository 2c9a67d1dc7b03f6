/**
 * `rotate contoso-portal` from the command line against the sandbox: the unattended run parks (exit 3) with the admin
 * center's instructions; after Update key, `resume` finds the platform's key, waits for the site and PATCHes the old
 * key away, keeping I1 for the site over the whole history. With a platform that removes the old key itself, the
 * retirement has nothing to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  getHistory,
  getRequests,
  parseJson,
  startE2eSandbox,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';
import { checkSiteI1, portal, pressUpdateKey, siteState } from './power-pages-support.js';

const THUMBPRINT = /^[0-9A-F]{40}$/;

interface ParkedDocument extends RunDocument {
  message?: string;
  next?: string;
}

describe('rotate contoso-portal, Update key, resume', () => {
  let sb: Sandbox;
  let oldThumbprint: string;
  let parked: Awaited<ReturnType<typeof cli>>;
  let parkedDoc: ParkedDocument;
  let platformKey: { thumbprint: string; keyId: string };
  let resumed: Awaited<ReturnType<typeof cli>>;
  let doc: ParkedDocument;

  beforeAll(async () => {
    // The operator may read the identity tables: rotate's preflight shows the site's identity verdict.
    sb = await startE2eSandbox({ siteRestartSeconds: 2, identity: { operatorReads: true } });
    oldThumbprint = (await siteState(sb)).site.thumbprint!;
    parked = await cli(sb.configPath, ['rotate', 'contoso-portal', '--yes', '--json']);
    parkedDoc = parseJson<ParkedDocument>(parked);
    platformKey = await pressUpdateKey(sb, portal(sb).websiteId);
    resumed = await cli(sb.configPath, ['resume', parkedDoc.runId, '--yes', '--json']);
    doc = parseJson<ParkedDocument>(resumed);
  });
  afterAll(() => sb?.stop());

  it('parks with exit 3, the run id and the exact admin center instructions', () => {
    expect(parked.code, parked.stderr).toBe(3);
    expect(parkedDoc).toMatchObject({ target: 'contoso-portal', outcome: 'awaitingOperator', oldThumbprint });
    expect(parkedDoc.runId).toMatch(/contoso-portal/);
    expect(parkedDoc.next).toBe(`certrotate resume ${parkedDoc.runId} --config ${sb.configPath}`);
    const message = parkedDoc.message ?? '';
    expect(message).toContain('Power Platform admin center');
    expect(message).toContain('Security → Website Authentication Key → Update key');
    expect(message).toContain('site "contoso-portal" in environment "contoso-prod"');
    expect(message).toContain('5–15 minutes');
    expect(message).toContain('Retry Authentication Key Update');
    expect(message).toContain(`certrotate resume ${parkedDoc.runId}`);
    expect(parkedDoc.steps.map((s) => [s.name, s.status])).toEqual([
      ['observeTarget', 'succeeded'],
      ['detectPlatformKey', 'parked'],
    ]);
  });

  it('shows the identity verdict in the preflight, as plan does, on stderr only', () => {
    expect(parked.stderr).toContain(
      `Identity: SYSTEM (legacy) — 5 findings; run \`certrotate identity contoso-portal --config ${sb.configPath}\``,
    );
    expect(parked.stdout).not.toContain('Identity:');
  });

  it('resume ends succeeded with the platform key as the new key', () => {
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(doc).toMatchObject({
      runId: parkedDoc.runId,
      outcome: 'succeeded',
      oldThumbprint,
      newThumbprint: platformKey.thumbprint,
    });
    expect(doc.newThumbprint).toMatch(THUMBPRINT);
    const retire = doc.steps.find((s) => s.name === 'retireOldKey')!;
    expect(retire.status).toBe('succeeded');
    expect(retire.detail).toContain(`removed ${oldThumbprint}`);
    expect(retire.detail).toContain(`kept ${platformKey.thumbprint}`);
    expect(doc.steps.find((s) => s.name === 'verifyNewKey')?.status).toBe('succeeded');
  });

  it('leaves the app holding only the key the site uses', async () => {
    const { app, site } = await siteState(sb);
    expect(site).toMatchObject({ status: 'running', thumbprint: platformKey.thumbprint });
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([platformKey.thumbprint]);
  });

  it('keeps I1 over the whole history: the site key is always registered', async () => {
    expect(checkSiteI1(await getHistory(sb), portal(sb))).toEqual([]);
  });

  it('retires with one PATCH of the app and no other write to Graph', async () => {
    const writes = (await getRequests(sb)).filter((r) => r.service === 'graph' && r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.status}`)).toEqual(['PATCH 204']);
  });

  it('resume of the finished run changes nothing and exits 0', async () => {
    const again = await cli(sb.configPath, ['resume', parkedDoc.runId, '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(parseJson<RunDocument>(again).outcome).toBe('succeeded');
  });
});

describe('rotate contoso-portal when the platform removes the old key itself', () => {
  let sb: Sandbox;

  beforeAll(async () => {
    sb = await startE2eSandbox({ siteRestartSeconds: 1, ppRemovesOldKey: true });
  });
  afterAll(() => sb?.stop());

  it('ends succeeded with the retirement a noChange, and I1 held', async () => {
    const oldThumbprint = (await siteState(sb)).site.thumbprint!;
    const parked = await cli(sb.configPath, ['rotate', 'contoso-portal', '--yes', '--json']);
    expect(parked.code, parked.stderr).toBe(3);
    const runId = parseJson<RunDocument>(parked).runId;
    const platformKey = await pressUpdateKey(sb, portal(sb).websiteId);

    const resumed = await cli(sb.configPath, ['resume', runId, '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const doc = parseJson<RunDocument>(resumed);
    expect(doc).toMatchObject({ outcome: 'succeeded', oldThumbprint, newThumbprint: platformKey.thumbprint });
    const retire = doc.steps.find((s) => s.name === 'retireOldKey')!;
    expect(retire.status).toBe('skipped');
    expect(retire.detail).toMatch(/^noChange/);

    const { app } = await siteState(sb);
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([platformKey.thumbprint]);
    const writes = (await getRequests(sb)).filter((r) => r.service === 'graph' && r.method !== 'GET');
    expect(writes).toEqual([]);
    expect(checkSiteI1(await getHistory(sb), portal(sb))).toEqual([]);
  });
});

describe('rotate contoso-portal when certrotate may not read the Power Platform websites API', () => {
  let sb: Sandbox;

  beforeAll(async () => {
    sb = await startE2eSandbox({ siteRestartSeconds: 1 });
    // The websites API documents delegated sign-in only: here it refuses certrotate's service principal (403).
    sb.directory.appByAppId(sb.operator.clientId)!.powerPlatformReader = false;
  });
  afterAll(() => sb?.stop());

  it('takes the site from the config (its siteUrl) and still finishes after Update key', async () => {
    const { websiteId, environmentId } = portal(sb);
    const parked = await cli(sb.configPath, ['rotate', 'contoso-portal', '--yes', '--json']);
    expect(parked.code, parked.stderr).toBe(3);
    // The identity read fails too (the site's Dataverse comes from the same API): said, and the run goes on.
    expect(parked.stderr).toMatch(/^identity: not checked \(.+\)$/m);
    const parkedDoc = parseJson<ParkedDocument>(parked);
    // Without the API there are no display names: the instructions name the site and environment by id.
    expect(parkedDoc.message).toContain(`site "${websiteId}" in environment "${environmentId}"`);

    const platformKey = await pressUpdateKey(sb, websiteId);
    const resumed = await cli(sb.configPath, ['resume', parkedDoc.runId, '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(parseJson<RunDocument>(resumed)).toMatchObject({
      outcome: 'succeeded',
      newThumbprint: platformKey.thumbprint,
    });
    const refused = (await getRequests(sb)).filter((r) => r.service === 'powerplatform');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.status === 403)).toBe(true);
    expect((await siteState(sb)).app.keyCredentials.map((k) => k.thumbprint)).toEqual([platformKey.thumbprint]);
    expect(checkSiteI1(await getHistory(sb), portal(sb))).toEqual([]);
  });
});
