/**
 * The race the two-agent e2e found (seed 10 of the sweep: both agents rotate one target at the same moment): agent B
 * looks for a pending create, finds none, and before its own POST agent A's create starts; Key Vault refuses B's
 * create (409, a pending operation is in progress). That is A's change, not B's failure: B adopts the pending create,
 * and once it completes with A's tag B ends `superseded` naming A — never `failed` — having created, attached and
 * installed nothing, while A's version stays enabled. A create refused for another reason (nothing pending) still
 * fails. Deterministic: the fake world's calls are interleaved by hand.
 */
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../../src/adapters/ports.js';
import type { RotationPorts } from '../../../src/adapters/rotation-ports.js';
import { RUN_ID_TAG } from '../../../src/machines/rotation-policies.js';
import { driveRotation } from '../../../src/runs/driver.js';
import { generateCertificate } from '../../../src/runs/steps/generate-certificate.js';
import { checkI1 } from '../../fakes/invariants.js';
import { rotationInput } from '../../fakes/harness.js';
import { CERTIFICATE, FakeWorld } from '../../fakes/world.js';

const A = 'run-agent-a';
const B = 'run-0001';
const step = () => ({ signal: new AbortController().signal, rerun: false });

/** B's ports, where A's create lands after B's last look for a pending create and just before B's own POST. */
function racingPorts(world: FakeWorld): RotationPorts {
  const ports = world.ports({ createPollMs: 2_000 });
  const other = world.ports();
  let raced = false;
  return {
    ...ports,
    certificates: {
      ...ports.certificates,
      beginCreate: async (certificate, policy, tags, options) => {
        if (!raced) {
          raced = true;
          await other.certificates.beginCreate(certificate, policy, { [RUN_ID_TAG]: A });
        }
        return ports.certificates.beginCreate(certificate, policy, tags, options);
      },
    },
  };
}

describe('two agents creating a version of one certificate at the same moment', () => {
  it('the create Key Vault refuses (a pending operation) adopts the racing create instead of failing', async () => {
    const world = new FakeWorld();
    const result = await generateCertificate(
      racingPorts(world),
      { runId: B, certificate: CERTIFICATE, policy: rotationInput().keyVault!.policy },
      step(),
    );
    expect(result).toMatchObject({ status: 'pending', reused: true });
    // B's POST was made and refused; only A's create exists.
    expect(world.calls.filter((c) => c === 'certificates.beginCreate')).toHaveLength(2);
  });

  it('the whole run ends superseded by the other run, not failed, and leaves that run’s version alone', async () => {
    const world = new FakeWorld({ propagationMs: 0, readLagMs: 0 });
    const keysBefore = world.appKeys();
    const result = await driveRotation({
      ports: racingPorts(world),
      input: rotationInput({ runId: B }),
      onSnapshot: async () => {},
    });
    expect(result.outcome).toBe('superseded');
    expect(result.failure?.error.code).toBe('superseded');
    expect(result.failure?.error.message).toContain(`made by run ${A}`);
    expect(result.steps.find((s) => s.name === 'generateCertificate')).toMatchObject({ status: 'failed' });
    expect(result.steps.find((s) => s.name === 'withdrawAdditions')).toMatchObject({ status: 'succeeded' });

    // B changed nothing: no key of its on the app, the server untouched, A's version enabled and untagged by B.
    expect(world.appKeys()).toEqual(keysBefore);
    expect(world.serverKey()).toBe(world.seededVersion.thumbprint);
    const versions = world.allVersions();
    expect(versions.filter((v) => v.tags[RUN_ID_TAG] === B)).toEqual([]);
    expect(versions.find((v) => v.tags[RUN_ID_TAG] === A)?.enabled).toBe(true);
    expect(checkI1(world)).toEqual([]);
  });

  it('a conflict with nothing pending (e.g. a soft-deleted name) is still a failure', async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    const refused = new AdapterError({
      code: 'conflict',
      status: 409,
      message: 'ObjectIsDeletedButRecoverable',
      retryable: false,
    });
    const failing: RotationPorts = {
      ...ports,
      certificates: { ...ports.certificates, beginCreate: () => Promise.reject(refused) },
    };
    const result = await driveRotation({
      ports: failing,
      input: rotationInput({ runId: B }),
      onSnapshot: async () => {},
    });
    expect(result.outcome).toBe('failed');
    expect(result.failure?.error).toMatchObject({ code: 'conflict', message: 'ObjectIsDeletedButRecoverable' });
  });
});
