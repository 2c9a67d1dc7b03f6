import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../../src/adapters/ports.js';
import { MemoryRunStore } from '../../../../src/adapters/state/memory-run-store.js';
import { blockingRunMessage, blocksTarget, findBlockingRun } from '../../../../src/adapters/state/open-runs.js';

function run(extra: Partial<RunSummary>): RunSummary {
  return {
    runId: 'r-1',
    target: 'contoso-api',
    outcome: null,
    state: 'verifying',
    startedAt: '2026-11-28T08:00:00.000Z',
    updatedAt: '2026-11-28T08:00:01.000Z',
    ...extra,
  };
}

describe('open-run guard', () => {
  it('is blocked by an unfinished, a parked and a corrupt run of the target, not by an ended one', () => {
    expect(blocksTarget(run({ outcome: null }), 'contoso-api')).toBe(true);
    expect(blocksTarget(run({ outcome: 'awaitingOperator' }), 'contoso-api')).toBe(true);
    expect(blocksTarget(run({ outcome: 'awaitingRetirement' }), 'contoso-api')).toBe(true);
    expect(blocksTarget(run({ outcome: 'corrupt', state: 'corrupt', error: 'x' }), 'contoso-api')).toBe(true);
    for (const outcome of ['succeeded', 'noChange', 'rolledBack', 'failed']) {
      expect(blocksTarget(run({ outcome }), 'contoso-api')).toBe(false);
    }
    expect(blocksTarget(run({ outcome: null }), 'fabrikam-api')).toBe(false);
    expect(blocksTarget(run({ outcome: 'corrupt', error: 'x' }), 'fabrikam-api')).toBe(false);
  });

  it('fails closed on a corrupt run whose target nobody can tell: it blocks every target', () => {
    expect(blocksTarget(run({ target: '(unknown)', outcome: 'corrupt', error: 'x' }), 'fabrikam-api')).toBe(true);
  });

  it('finds a corrupt run of the target in a store, from its journal when the snapshot is unreadable', async () => {
    const store = new MemoryRunStore();
    await store.appendJournal({
      time: '2026-11-28T08:00:00.000Z',
      runId: 'r-1',
      target: 'contoso-api',
      step: 'run',
      event: 'started',
    });
    store.objects.set(MemoryRunStore.objectName('r-1', 'snapshot.json'), '{"torn');
    expect(await findBlockingRun(store, 'fabrikam-api')).toBeUndefined();
    const found = await findBlockingRun(store, 'contoso-api');
    expect(found).toMatchObject({ runId: 'r-1', outcome: 'corrupt', error: expect.stringContaining('not valid JSON') });
    expect(blockingRunMessage(found!, 'contoso-api')).toMatch(
      /^target "contoso-api" has run r-1 whose state cannot be read \(runs\/r-1\/snapshot\.json is not valid JSON.*`certrotate show r-1`/,
    );
  });

  it("keeps the runner's messages for an interrupted and a parked run", () => {
    expect(blockingRunMessage(run({ outcome: null, state: 'verifying' }), 'contoso-api')).toBe(
      'target "contoso-api" has an unfinished run r-1 (interrupted during step “Verify the new key” (verifyNewKey)); ' +
        'continue it with `certrotate resume r-1`',
    );
    // The step in words from the step catalogue, never the internal state name (issue 10, 9f).
    const installing = blockingRunMessage(run({ outcome: null, state: 'installing.running' }), 'contoso-api');
    expect(installing).toContain(
      'interrupted during step “Install the new key on the server” (installServerKey), while it ran',
    );
    expect(installing).not.toContain('installing.running');
    expect(blockingRunMessage(run({ outcome: 'awaitingOperator' }), 'contoso-api')).toBe(
      'target "contoso-api" has an unfinished run r-1 (awaitingOperator); continue it with `certrotate resume r-1` ' +
        'or withdraw it with `certrotate rollback r-1`',
    );
  });
});
