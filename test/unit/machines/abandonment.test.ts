/** The pure rule for closing a run (src/machines/abandonment.ts): changed nothing, and stands where nothing acts. */
import { describe, expect, it } from 'vitest';
import { abandonRefusal, atAbandonableStandstill, changedNothing } from '../../../src/machines/abandonment.js';

const none = { generated: false, attached: false, installed: false };
const run = (kind: string, progress = none, operation?: { certificateName: string; serialized: string }) => ({
  settings: { runId: 'run-1', kind },
  progress,
  ...(operation ? { operation } : {}),
});

describe('abandonment', () => {
  it('allows the standstills before any change', () => {
    for (const state of ['preflight.running', 'preflight.backingOff', 'generating.confirming', 'awaitingOperator']) {
      expect(abandonRefusal(state, run('keyvault')), state).toBeUndefined();
    }
    expect(abandonRefusal('detectingPlatformKey.waiting', run('power-pages'))).toBeUndefined();
  });

  it('refuses the working states of a mutating step even before anything is recorded', () => {
    for (const state of ['generating.requesting', 'generating.backingOff', 'rollingBack.running']) {
      expect(atAbandonableStandstill(state), state).toBe(false);
      expect(abandonRefusal(state, run('keyvault')), state).toMatch(/may have changed the target without recording/);
    }
  });

  it('refuses any recorded change, a pending create included, naming it', () => {
    const op = { certificateName: 'c', serialized: '{}' };
    expect(changedNothing(run('keyvault', none, op))).toBe(false);
    expect(abandonRefusal('awaitingOperator', run('keyvault', none, op))).toMatch(/created a Key Vault version/);
    const all = { generated: true, attached: true, installed: true };
    const keyvault = abandonRefusal('awaitingOperator', run('keyvault', all));
    expect(keyvault).toContain('created a Key Vault version, added a key to the app, put the new key on the server');
    expect(keyvault).toContain('certrotate rollback run-1');
    // Power Pages runs cannot roll back: only resume is offered.
    const portal = abandonRefusal('awaitingOperator', run('power-pages', { ...none, attached: true }));
    expect(portal).toContain('certrotate resume run-1');
    expect(portal).not.toContain('rollback');
  });
});
