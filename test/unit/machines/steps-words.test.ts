/** A run's stored state in words from the step catalogue (issue 10, 9f): messages never show `installing.running`. */
import { describe, expect, it } from 'vitest';
import { stateInWords } from '../../../src/machines/steps.js';

describe('stateInWords', () => {
  it('names the step and what it was doing', () => {
    expect(stateInWords('installing.running')).toBe(
      'step “Install the new key on the server” (installServerKey), while it ran',
    );
    expect(stateInWords('retiring.confirming')).toBe(
      'step “Retire the old key” (retireOldKey), waiting for its confirmation',
    );
    expect(stateInWords('attaching.propagating')).toMatch(/^step “[^”]+” \(awaitPropagation\), waiting for Entra ID/);
    expect(stateInWords('verifying')).toBe('step “Verify the new key” (verifyNewKey)');
  });

  it('leaves a state that is no step as it is', () => {
    expect(stateInWords('awaitingOperator')).toBe('awaitingOperator');
  });
});
