/**
 * A rotation killed with SIGKILL at chosen points, then resumed: as each step starts, right after each write
 * succeeded (before the step could record it — the answer is lost with the process), and a second time during the
 * resume. Every case converges to one new Key Vault version and one new key credential with I1–I3 held.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getRequests,
  killAtStep,
  killOnRequest,
  listRuns,
  parseJson,
  prng,
  resumeAndCheck,
  startE2eSandbox,
  sandboxTarget,
  targetState,
  type RequestEntry,
  type RunDocument,
  type Sandbox,
  type SandboxTarget,
} from '../helpers/sandbox.js';

/** Cases run side by side on 2 cores: each gets room beyond the default 60 s. */
const CONCURRENT_TIMEOUT = 150_000;

describe('rotation killed at a given step, then resumed', () => {
  // attachKeyCredential is killed below only once its addKey is in flight: killed before it, a resumed attach cannot
  // tell "never sent" from "sent, not yet readable" and rightly waits out Graph's read lag (2 min) before adding.
  const STEPS = ['generateCertificate', 'awaitPropagation', 'installServerKey', 'verifyNewKey', 'retireOldKey'];
  // The cases run side by side, each on its own bench target: rotations mostly wait, so this saves wall time, and the
  // request log and history are always read for the case's own target.
  /**
   * Kills right after a write succeeded, before the step could record it: the sandbox's own record of the answered
   * write is the trigger (the world, not our output). The resumed step must find the write done rather than do it
   * again (I3).
   */
  const AFTER_WRITE: [string, (r: RequestEntry, t: SandboxTarget) => boolean][] = [
    ['generateCertificate', (r, t) => r.method === 'POST' && r.path === `/certificates/${t.certificate}/create`],
    ['attachKeyCredential', (r, t) => r.method === 'POST' && r.path === `/v1.0/applications/${t.objectId}/addKey`],
    ['installServerKey', (r, t) => r.method === 'POST' && r.instance === t.name && r.path === '/admin/s2s-key'],
    ['retireOldKey', (r, t) => r.method === 'POST' && r.path === `/v1.0/applications/${t.objectId}/removeKey`],
  ];
  let sb: Sandbox;
  let next = 0;
  const nextTarget = () => `bench-${String(++next).padStart(4, '0')}`;
  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: STEPS.length + AFTER_WRITE.length + 2 });
  });
  afterAll(() => sb?.stop());

  it.concurrent.each(STEPS.map((step, i) => [step, i]))(
    'killed as %s starts converges',
    async (step, i) => {
      const target = nextTarget();
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      // A seeded delay of 0–40 ms: the kill lands inside the step's first request more often than not.
      const delay = Math.floor(prng(1000 + i)() * 40);
      const { result, reached } = await killAtStep(sb.configPath, ['rotate', target, '--yes'], step, delay);
      const context = `killed ${delay} ms into ${step} (${result.signal ?? `exit ${result.code}`})`;
      expect(reached, `${context}\n${result.stderr}`).toBe(true);
      expect(result.signal, context).toBe('SIGKILL');
      await resumeAndCheck(sb, target, oldThumbprint, context);
    },
    CONCURRENT_TIMEOUT,
  );

  it.concurrent.each(AFTER_WRITE)(
    'killed once the write of %s succeeded converges',
    async (step, isWrite) => {
      const target = nextTarget();
      const t = sandboxTarget(sb, target);
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      const before = (await getRequests(sb)).length;
      const { result, reached } = await killOnRequest(sb, sb.configPath, ['rotate', target, '--yes'], (r) =>
        isWrite(r, t),
      );
      expect(reached, result.stderr).toBe(true);
      expect(result.signal).toBe('SIGKILL');
      // The write itself went through: its answer reached a process that died before it could record it.
      const writes = (await getRequests(sb)).slice(before).filter((r) => isWrite(r, t));
      expect(writes.map((w) => w.status < 300)).toEqual([true]);
      await resumeAndCheck(sb, target, oldThumbprint, `killed once the write of ${step} succeeded`);
    },
    CONCURRENT_TIMEOUT,
  );

  it.concurrent(
    'converges after a second kill during the resume',
    async () => {
      const target = nextTarget();
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      const first = await killAtStep(sb.configPath, ['rotate', target, '--yes'], 'installServerKey', 5);
      expect(first.result.signal).toBe('SIGKILL');
      const [run] = (await listRuns(sb.configPath)).filter((r) => r.target === target);
      expect(run).toBeDefined();
      const second = await killAtStep(sb.configPath, ['resume', run!.runId, '--yes'], 'retireOldKey', 5);
      expect(second.result.signal, second.result.stderr).toBe('SIGKILL');
      await resumeAndCheck(sb, target, oldThumbprint, 'killed in installServerKey, then in retireOldKey');
    },
    CONCURRENT_TIMEOUT,
  );

  it.concurrent(
    'stops resumable on SIGTERM, releases the lock, and converges on resume',
    async () => {
      const target = nextTarget();
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      const args = ['rotate', target, '--yes', '--json'];
      const t = sandboxTarget(sb, target);
      const addKey = (r: RequestEntry) => r.method === 'POST' && r.path === `/v1.0/applications/${t.objectId}/addKey`;
      const { result, reached } = await killOnRequest(sb, sb.configPath, args, addKey, 'SIGTERM');
      expect(reached, result.stderr).toBe(true);
      // It exits on its own, after writing its last snapshot and releasing the lock.
      expect(result.signal, result.stderr).toBeNull();
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/SIGTERM: stopping; the run can be resumed/);
      const doc = parseJson<RunDocument>(result);
      expect(doc.outcome).toBeNull();
      expect(doc.next).toBe(`certrotate resume ${doc.runId} --config ${sb.configPath}`);
      expect(existsSync(join(sb.dir, '.certrotate', 'locks', `${target}.json`))).toBe(false);
      expect(await resumeAndCheck(sb, target, oldThumbprint, 'SIGTERM after addKey')).not.toBe('(no snapshot)');
    },
    CONCURRENT_TIMEOUT,
  );
});
