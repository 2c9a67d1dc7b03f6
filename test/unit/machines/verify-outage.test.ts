/**
 * Outage ≠ rejection (issue 16, defect 8), against the fake world on the simulated clock: verification that cannot
 * reach Entra, Dataverse or the server for the whole `verifyTimeout` parks the run (`serviceUnavailable`, resumable,
 * the server never swapped back), and resume verifies again; only a definite rejection — Entra still not knowing
 * the key, WhoAmI refusing the token, the server reporting another key — rolls back.
 */
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../../src/exit-codes.js';
import { TIMEOUT, UNAVAILABLE, throttled, type FaultRule } from '../../fakes/faults.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { checkInvariants } from '../../fakes/invariants.js';
import { FakeWorld } from '../../fakes/world.js';

const VERIFY = 5 * 60_000;
const FOREVER = 10_000;

/** Server key changes after the seeded one: what the run did to the server. */
function serverMoves(world: FakeWorld): (string | undefined)[] {
  return world.history.filter((e) => e.kind === 'serverKey').map((e) => (e as { thumbprint?: string }).thumbprint);
}

describe('verification during an outage', () => {
  it.each<[string, string, FaultRule['error']]>([
    ['Dataverse answers 503', 'dataverse.whoAmI', UNAVAILABLE],
    ['Dataverse does not answer in time', 'dataverse.whoAmI', TIMEOUT],
    ['Entra throttles past the deadline', 'tokens.acquireToken', throttled(30_000)],
    ['the server is down', 'server.currentKey', UNAVAILABLE],
  ])('%s: parks serviceUnavailable, swaps nothing back, and resume verifies again', async (_name, call, error) => {
    const world = new FakeWorld({ propagationMs: 0 });
    const old = world.seededVersion.thumbprint;
    const input = rotationInput({ verifyTimeoutMs: VERIFY });
    // From the verify step on, the service is gone: the calls before it (the propagation's token, preflight's and
    // the install's reads of the server) still get through.
    const skip = { 'tokens.acquireToken': 1, 'server.currentKey': 2 }[call] ?? 0;
    world.faults.add({ call, mode: 'fail', times: FOREVER, skip, error });
    const { result, record } = await driveInWorld(world, { input });

    expect(result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked', state: 'awaitingOperator' });
    expect(exitCodeFor(result.outcome)).toBe(3);
    expect(result.park).toMatchObject({ reason: 'serviceUnavailable', resumeTo: 'verifying' });
    expect(result.park?.message).toMatch(/could not reach a service for 5 min/);
    expect(result.park?.message).toContain('outage, not a rejection, so nothing was undone');
    expect(result.park?.message).toContain('certrotate resume run-0001');
    expect(result.steps.find((s) => s.name === 'rollBackRotation')).toBeUndefined();
    // The new key stays installed; the old one stays registered: the server moved once, never back.
    expect(serverMoves(world).slice(1)).toEqual([result.newThumbprint]);
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual(expect.arrayContaining([old, result.newThumbprint]));

    world.faults.clear();
    const resumed = await driveInWorld(world, { snapshot: record.snapshot, resumeEvent: true });
    expect(resumed.result.outcome).toBe('succeeded');
    expect(serverMoves(world).slice(1)).toEqual([result.newThumbprint]);
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });

  it('names the unreachable service in the park message', async () => {
    const world = new FakeWorld({ propagationMs: 0 });
    world.faults.add({ call: 'dataverse.whoAmI', mode: 'fail', times: FOREVER, error: UNAVAILABLE });
    const { result } = await driveInWorld(world, { input: rotationInput({ verifyTimeoutMs: VERIFY }) });
    expect(result.park?.message).toMatch(/Dataverse \(https:\/\/[^)]+\) unreachable: HTTP 503/);
  });

  it('Entra unreachable while the new key propagates: parks before install, resume waits for Entra again', async () => {
    const world = new FakeWorld({ propagationMs: 0 });
    const old = world.seededVersion.thumbprint;
    world.faults.add({ call: 'tokens.acquireToken', mode: 'fail', times: FOREVER, error: UNAVAILABLE });
    const { result, record } = await driveInWorld(world, { input: rotationInput({ verifyTimeoutMs: VERIFY }) });
    expect(result.park).toMatchObject({ reason: 'serviceUnavailable', resumeTo: 'attaching.propagating' });
    expect(result.park?.message).toMatch(
      /^Waiting for Entra to accept the new key .*Entra ID \(token endpoint\) unreachable/,
    );
    // Nothing was withdrawn, and the server never got the key Entra had not confirmed.
    expect(world.appKeys()).toHaveLength(2);
    expect(world.serverKey()).toBe(old);

    world.faults.clear();
    const resumed = await driveInWorld(world, { snapshot: record.snapshot, resumeEvent: true });
    expect(resumed.result.outcome).toBe('succeeded');
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });
});

describe('verification that is rejected still rolls back', () => {
  it('Entra still does not know the key after verifyTimeout (AADSTS700027)', async () => {
    const world = new FakeWorld({ propagationMs: 0, newKeysNeverWork: true });
    const old = world.seededVersion.thumbprint;
    const { result } = await driveInWorld(world, { input: rotationInput({ verifyTimeoutMs: VERIFY }) });
    expect(result.outcome).toBe('rolledBack');
    expect(result.steps.find((s) => s.name === 'awaitPropagation')).toMatchObject({ status: 'failed' });
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([old]);
  });

  it('WhoAmI refuses the token (403)', async () => {
    const world = new FakeWorld({ propagationMs: 0 });
    const old = world.seededVersion.thumbprint;
    world.faults.add({
      call: 'dataverse.whoAmI',
      mode: 'fail',
      times: FOREVER,
      error: { code: 'forbidden', message: 'HTTP 403', status: 403, retryable: false },
    });
    const { result } = await driveInWorld(world, { input: rotationInput({ verifyTimeoutMs: VERIFY }) });
    expect(result.outcome).toBe('rolledBack');
    expect(result.steps.find((s) => s.name === 'verifyNewKey')).toMatchObject({ status: 'failed' });
    expect(world.serverKey()).toBe(old);
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });
});
