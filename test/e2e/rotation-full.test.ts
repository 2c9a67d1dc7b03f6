/**
 * A full rotation of `contoso-api` from the command line: the JSON document of DESIGN §5, the world it leaves
 * behind, and I1–I3 over the sandbox's whole history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkI1,
  checkI2,
  checkI3,
  cli,
  getHistory,
  getState,
  parseJson,
  sandboxTarget,
  serverHealth,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const THUMBPRINT = /^[0-9A-F]{40}$/;

describe('rotate contoso-api --yes --json', () => {
  let sb: Sandbox;
  let oldThumbprint: string;
  let result: Awaited<ReturnType<typeof cli>>;
  let doc: RunDocument;

  beforeAll(async () => {
    sb = await startE2eSandbox();
    oldThumbprint = (await targetState(sb, 'contoso-api')).server!.thumbprint;
    result = await cli(sb.configPath, ['rotate', 'contoso-api', '--yes', '--json']);
    doc = parseJson<RunDocument>(result);
  });
  afterAll(() => sb?.stop());

  it('exits 0 with the rotate document of DESIGN §5', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(doc).toMatchObject({
      formatVersion: 1,
      target: 'contoso-api',
      outcome: 'succeeded',
      oldThumbprint,
    });
    expect(doc.runId).toMatch(/contoso-api/);
    expect(doc.newThumbprint).toMatch(THUMBPRINT);
    expect(doc.newThumbprint).not.toBe(oldThumbprint);
    expect(doc.steps.length).toBeGreaterThan(0);
    for (const step of doc.steps) {
      // Every field of DESIGN §5 is present in every step (null when there is nothing to say).
      expect(Object.keys(step).sort()).toEqual(['attempts', 'detail', 'endedAt', 'name', 'startedAt', 'status']);
      expect(step.name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(step.status).toBe('succeeded');
      expect(step.startedAt).toMatch(ISO);
      expect(step.endedAt).toMatch(ISO);
      expect(Date.parse(step.endedAt!)).toBeGreaterThanOrEqual(Date.parse(step.startedAt));
      expect(step.attempts).toBeGreaterThanOrEqual(1);
    }
    const names = doc.steps.map((s) => s.name);
    for (const step of [
      'generateCertificate',
      'attachKeyCredential',
      'installServerKey',
      'verifyNewKey',
      'retireOldKey',
    ]) {
      expect(names).toContain(step);
    }
    // The steps are listed in the order they ran.
    expect(names.indexOf('verifyNewKey')).toBeLessThan(names.indexOf('retireOldKey'));
  });

  it('leaves the app with only the new key, the server using it, and the old version disabled', async () => {
    const { app, server, versions } = await targetState(sb, 'contoso-api');
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
    expect(server!.thumbprint).toBe(doc.newThumbprint);
    const health = await serverHealth(sb, 'contoso-api');
    expect(health.status, health.body).toBe(200);
    expect(versions).toHaveLength(2);
    expect(versions.find((v) => v.thumbprint === oldThumbprint)?.enabled).toBe(false);
    const fresh = versions.find((v) => v.thumbprint === doc.newThumbprint);
    expect(fresh?.enabled).toBe(true);
    expect(fresh?.tags['certrotate-run']).toBe(doc.runId);
  });

  it('holds I1, I2 and I3 over the whole history', async () => {
    const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
    const t = sandboxTarget(sb, 'contoso-api');
    const ref = { appId: t.appId, server: t.name };
    expect(checkI1(history, ref)).toEqual([]);
    expect(checkI2(history, { ...ref, oldThumbprint, newThumbprint: doc.newThumbprint! })).toEqual([]);
    expect(
      checkI3(history, state, { ...ref, vaultUrl: t.vaultUrl!, certificate: t.certificate!, runIds: [doc.runId] }),
    ).toEqual([]);
    // The checks see the rotation itself: the server moved to the new key, and the old key left the app.
    expect(history.some((e) => e.kind === 'serverKey' && e.thumbprint === doc.newThumbprint)).toBe(true);
    expect(history.some((e) => e.kind === 'token' && e.thumbprint === doc.newThumbprint)).toBe(true);
  });

  it('leaves the other targets alone', async () => {
    const { app, server } = await targetState(sb, 'fabrikam-api');
    expect(app.keyCredentials).toHaveLength(1);
    expect(server!.thumbprint).toBe(app.keyCredentials[0]!.thumbprint);
  });
});
