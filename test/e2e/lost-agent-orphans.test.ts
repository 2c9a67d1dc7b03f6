/**
 * Issue 16, defect 2: a lost agent leaves orphans nobody sees. A rotation is killed with SIGKILL during install and
 * its state directory deleted (an ephemeral pipeline agent); the tenant still says what happened. `scan` shows the
 * extra key as in flight (and, once its run counts as stale, orphaned), `rotate` refuses beside it (exit 4, naming
 * the lost run), `prune --yes` retires it without a write for the key in use, and `scan` then reports one key. A
 * second case gives certrotate's identity the sign-in log: a key that signed in since stays, one that did not goes.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialDisplayName, RUN_TAG } from '../../src/machines/world-markers.js';
import { createSelfSignedCertificate } from '../../src/sandbox/pki.js';
import {
  addFaults,
  checkI1,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  getRequests,
  killAtStep,
  listRuns,
  parseJson,
  sandboxTarget,
  startE2eSandbox,
  targetState,
  type Sandbox,
} from '../helpers/sandbox.js';

interface ScanDoc {
  targets: {
    name: string;
    status: string;
    thumbprint: string | null;
    detail?: string;
    credentials?: { thumbprint: string; keyId: string; runId: string | null; role: string }[];
  }[];
}

interface PruneDoc {
  pruneId: string;
  inUse: string;
  signInLog: { readable: boolean; note?: string };
  decisions: { thumbprint: string; action: string; evidence: string }[];
  removed: { thumbprint: string; result: string; versionDisabled: string | null }[];
  outcome: string;
}

const TIMEOUT = 180_000;
const isWrite = (r: { method: string }) => r.method !== 'GET' && r.method !== 'HEAD';

describe('a rotation lost with its state directory', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox();
  });
  afterAll(() => sb?.stop());

  it(
    'is seen as in flight, blocks rotate, turns orphaned past the bound and is pruned without touching the key in use',
    async () => {
      const target = 'contoso-api';
      const t = sandboxTarget(sb, target);
      const old = (await targetState(sb, target)).server!.thumbprint;

      // The server refuses installs for a while, so the kill lands inside installServerKey before the server moved.
      await addFaults(sb, [{ service: 'server', method: 'POST', path: '/admin/s2s-key', status: 503 }]);
      const killed = await killAtStep(sb.configPath, ['rotate', target, '--yes'], 'installServerKey', 300);
      await clearFaults(sb);
      expect(killed.reached, killed.result.stderr).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      const [lost] = (await listRuns(sb.configPath)).filter((r) => r.target === target);
      expect(lost).toBeDefined();
      const afterKill = await targetState(sb, target);
      expect(afterKill.server!.thumbprint).toBe(old);
      expect(afterKill.app.keyCredentials).toHaveLength(2);
      const extra = afterKill.app.keyCredentials.find((k) => k.thumbprint !== old)!;
      const extraVersion = afterKill.versions.find((v) => v.thumbprint === extra.thumbprint)!;
      expect(extraVersion.tags[RUN_TAG]).toBe(lost!.runId);

      // The agent is gone, and its state with it.
      await rm(join(sb.dir, '.certrotate'), { recursive: true, force: true });

      // scan sees the extra key: in flight, naming the lost run.
      const scan1 = await cli(sb.configPath, ['--json', 'scan']);
      expect(scan1.code, scan1.stderr).toBe(0);
      const row1 = parseJson<ScanDoc>(scan1).targets.find((r) => r.name === target)!;
      expect(row1.status).toBe('inFlight');
      expect(row1.detail).toContain(lost!.runId);
      expect(row1.credentials!.map((c) => [c.thumbprint, c.role, c.runId]).sort()).toEqual(
        [
          [old, 'inUse', null],
          [extra.thumbprint, 'inFlight', lost!.runId],
        ].sort(),
      );

      // rotate refuses, whatever the (empty) state dir holds: exit 4 naming the run and what continues it.
      const rotate = await cli(sb.configPath, ['rotate', target, '--yes']);
      expect(rotate.code, rotate.stderr).toBe(4);
      expect(rotate.stderr).toContain(lost!.runId);
      expect(rotate.stderr).toContain(`certrotate resume ${lost!.runId}`);
      expect((await targetState(sb, target)).app.keyCredentials).toHaveLength(2);

      // plan says so too.
      const plan = await cli(sb.configPath, ['plan', target]);
      expect(plan.stdout).toContain(`run ${lost!.runId}`);

      // Past the staleness bound (configurable: 0s here, so the test need not wait a day) the key is an orphan.
      const stale = await editConfig(sb, 'stale.yaml', (doc) => doc.setIn(['defaults', 'staleRunAfter'], '0s'));
      const scan2 = await cli(stale, ['--json', 'scan', '--detailed-exitcode']);
      expect(scan2.code, scan2.stderr).toBe(2);
      const row2 = parseJson<ScanDoc>(scan2).targets.find((r) => r.name === target)!;
      expect(row2.status).toBe('orphaned');
      expect(row2.credentials!.find((c) => c.thumbprint === extra.thumbprint)!.role).toBe('orphaned');

      // prune --yes retires it: server evidence only, and it says it could not read the sign-in log.
      const before = (await getRequests(sb)).length;
      const prune = await cli(stale, ['--json', 'prune', target, '--yes']);
      expect(prune.code, prune.stderr).toBe(0);
      const doc = parseJson<PruneDoc>(prune);
      expect(doc.outcome).toBe('pruned');
      expect(doc.inUse).toBe(old);
      expect(doc.signInLog.readable).toBe(false);
      expect(doc.signInLog.note).toContain('AuditLog.Read.All');
      expect(doc.removed).toEqual([
        { thumbprint: extra.thumbprint, keyId: extra.keyId, result: 'removed', versionDisabled: extraVersion.version },
      ]);

      const end = await targetState(sb, target);
      expect(end.app.keyCredentials.map((k) => k.thumbprint)).toEqual([old]);
      expect(end.server!.thumbprint).toBe(old);
      expect(end.versions.find((v) => v.version === extraVersion.version)!.enabled).toBe(false);
      expect(end.versions.find((v) => v.thumbprint === old)!.enabled).toBe(true);

      // What prune wrote: one removeKey, one version disabled (the orphan's); nothing to the server, nothing else.
      const writes = (await getRequests(sb)).slice(before).filter(isWrite);
      const graphWrites = writes.filter((r) => r.service === 'graph');
      const vaultWrites = writes.filter((r) => r.service === 'keyvault');
      expect(graphWrites.map((r) => r.path)).toEqual([`/v1.0/applications/${t.objectId}/removeKey`]);
      expect(vaultWrites).toHaveLength(1);
      expect(vaultWrites[0]!.path).toContain(extraVersion.version);
      expect(writes.filter((r) => r.service === 'server')).toEqual([]);
      expect(writes.filter((r) => !['graph', 'keyvault', 'entra'].includes(r.service))).toEqual([]);
      expect(checkI1(await getHistory(sb), { appId: t.appId, server: target })).toEqual([]);

      // scan: one key, no orphan; the journal of the prune is readable.
      const scan3 = await cli(stale, ['--json', 'scan']);
      const row3 = parseJson<ScanDoc>(scan3).targets.find((r) => r.name === target)!;
      expect(row3.status).toBe('due');
      expect(row3.credentials!.map((c) => [c.thumbprint, c.role])).toEqual([[old, 'inUse']]);
      const show = await cli(stale, ['--json', 'show', doc.pruneId]);
      expect(show.code, show.stderr).toBe(0);
      const journal = parseJson<{ journal: { step: string; event: string }[] }>(show).journal;
      expect(journal.map((j) => j.event)).toEqual(['started', 'removed', 'versionDisabled', 'succeeded']);
    },
    TIMEOUT,
  );

  it(
    'with the sign-in log readable: keeps an orphan that signed in since the server moved, removes one that did not',
    async () => {
      const target = 'fabrikam-api';
      const t = sandboxTarget(sb, target);
      const app = sb.directory.appByAppId(t.appId)!;
      const inUse = (await targetState(sb, target)).server!.thumbprint;
      // Two keys of a run two days old with no local record: stale under the default bound of a day.
      const staleRun = `${new Date(Date.now() - 2 * 86_400_000)
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z')}-${target}-0a0b0c`;
      const added = [];
      for (let i = 0; i < 2; i++) {
        const material = await createSelfSignedCertificate(await sb.pool.takeKeyPair(2048), {
          subject: `CN=${target}-orphan-${i}`,
          notBefore: new Date(Date.now() - 2 * 86_400_000),
          notAfter: new Date(Date.now() + 700 * 86_400_000),
        });
        added.push(
          sb.directory.keyCredentialFromCertificate(material.certDer, {
            displayName: credentialDisplayName(staleRun),
            propagated: true,
          }),
        );
      }
      sb.directory.setKeyCredentials(app, [...app.keyCredentials, ...added]);
      // Someone still signs in with the first orphan (Entra logs it as a service-principal sign-in).
      sb.history.record({ kind: 'token', appId: t.appId, thumbprint: added[0]!.thumbprint, resource: 'graph' });
      const operator = sb.directory.appByAppId(sb.operator.clientId)!;
      operator.graphRoles.push('AuditLog.Read.All');
      try {
        const prune = await cli(sb.configPath, ['--json', 'prune', target, '--yes']);
        expect(prune.code, prune.stderr).toBe(0);
        const doc = parseJson<PruneDoc>(prune);
        expect(doc.signInLog).toEqual({ readable: true });
        const byThumb = Object.fromEntries(doc.decisions.map((d) => [d.thumbprint, d]));
        expect(byThumb[added[0]!.thumbprint]!.action).toBe('keep');
        expect(byThumb[added[0]!.thumbprint]!.evidence).toContain('signed in at');
        expect(byThumb[added[1]!.thumbprint]!.action).toBe('remove');
        expect(byThumb[added[1]!.thumbprint]!.evidence).toContain('no sign-in with it since');
        expect(doc.removed.map((r) => [r.thumbprint, r.versionDisabled])).toEqual([[added[1]!.thumbprint, null]]);
        const end = await targetState(sb, target);
        expect(end.app.keyCredentials.map((k) => k.thumbprint).sort()).toEqual([inUse, added[0]!.thumbprint].sort());
        expect(end.server!.thumbprint).toBe(inUse);
      } finally {
        operator.graphRoles.splice(operator.graphRoles.indexOf('AuditLog.Read.All'), 1);
      }
    },
    TIMEOUT,
  );
});
