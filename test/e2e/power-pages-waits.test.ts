/**
 * The waits of the Power Pages flow from the command line: `resume` before anyone pressed Update key polls for its
 * `resumeTimeout` and parks again with nothing changed; a site that stays unhealthy after the update is never left
 * without its old key, and the run says why; once the site is healthy, the same run finishes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { YAMLMap, YAMLSeq } from 'yaml';
import {
  addFaults,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  getRequests,
  parseJson,
  startE2eSandbox,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';
import { checkSiteI1, portal, pressUpdateKey, siteRunning, siteState } from './power-pages-support.js';

interface Doc extends RunDocument {
  message?: string;
}

const graphWrites = async (sb: Sandbox) =>
  (await getRequests(sb)).filter((r) => r.service === 'graph' && r.method !== 'GET');

describe('contoso-portal: Update key late, a site that stays down, then recovery', () => {
  let sb: Sandbox;
  let config: string;
  let runId: string;
  let oldThumbprint: string;

  beforeAll(async () => {
    sb = await startE2eSandbox({ siteRestartSeconds: 1 });
    // Short waits so the test sees both timeouts: resume looks for the key for 3 s, the site gets 4 s.
    config = await editConfig(sb, 'short-waits.yaml', (doc) => {
      const targets = doc.get('targets') as YAMLSeq<YAMLMap>;
      const portalTarget = targets.items.find((t) => t.get('name') === 'contoso-portal')!;
      portalTarget.set('resumeTimeout', '3s');
      portalTarget.set('verifyTimeout', '4s');
    });
    oldThumbprint = (await siteState(sb)).site.thumbprint!;
    const parked = await cli(config, ['rotate', 'contoso-portal', '--yes', '--json']);
    expect(parked.code, parked.stderr).toBe(3);
    runId = parseJson<Doc>(parked).runId;
  });
  afterAll(() => sb?.stop());

  it('Update key never pressed: resume polls for resumeTimeout, parks again with exit 3, nothing changed', async () => {
    const before = (await siteState(sb)).app.keyCredentials;
    const started = Date.now();
    const r = await cli(config, ['resume', runId, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    const doc = parseJson<Doc>(r);
    expect(doc).toMatchObject({ runId, outcome: 'awaitingOperator', oldThumbprint, newThumbprint: null });
    expect(doc.message).toContain('Update key');
    expect(doc.message).toContain('waits up to 3 s');
    expect(doc.steps.find((s) => s.name === 'detectPlatformKey')?.status).toBe('parked');
    expect((await siteState(sb)).app.keyCredentials).toEqual(before);
    expect(await graphWrites(sb)).toEqual([]);
  });

  it('the site stays unhealthy after Update key: the old key stays and the run says why', async () => {
    await addFaults(sb, [{ service: 'contoso-portal', status: 503 }]);
    const platformKey = await pressUpdateKey(sb, portal(sb).websiteId);
    const r = await cli(config, ['resume', runId, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(3);
    const doc = parseJson<Doc>(r);
    expect(doc).toMatchObject({ outcome: 'awaitingOperator', newThumbprint: platformKey.thumbprint });
    expect(doc.message).toContain('not healthy');
    expect(doc.message).toContain(`old key ${oldThumbprint} stays`);
    expect(doc.message).toContain('Retry Authentication Key Update');
    expect(doc.steps.find((s) => s.name === 'verifyNewKey')?.status).toBe('parked');
    expect(doc.steps.some((s) => s.name === 'retireOldKey' || s.name === 'rollBackRotation')).toBe(false);
    const thumbprints = (await siteState(sb)).app.keyCredentials.map((k) => k.thumbprint);
    expect(thumbprints.sort()).toEqual([oldThumbprint, platformKey.thumbprint].sort());
    expect(await graphWrites(sb)).toEqual([]);
  });

  it('once the site is healthy, resuming the same run retires the old key', async () => {
    await clearFaults(sb);
    await siteRunning(sb);
    const r = await cli(config, ['resume', runId, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<Doc>(r);
    expect(doc.outcome).toBe('succeeded');
    const { app, site } = await siteState(sb);
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([site.thumbprint]);
    expect(checkSiteI1(await getHistory(sb), portal(sb))).toEqual([]);
  });
});
