import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { rotationMachine } from '../../../src/machines/rotation.js';
import {
  STEP_NAMES,
  confirmQuestionFor,
  gatedStepOf,
  isStepName,
  stepFacts,
  stepOfActor,
  type StepName,
} from '../../../src/machines/steps.js';

/** The actors invoked anywhere under a state node. */
function invokedUnder(node: AnyStateNode): string[] {
  const own = node.invoke.map((i) => String(i.src));
  return [...own, ...Object.values(node.states).flatMap(invokedUnder)];
}

const topStates = rotationMachine.root.states;

describe('the step catalogue', () => {
  it('names every step actor of the machine, and awaitCertificate as the second half of generateCertificate', () => {
    const actors = Object.keys(rotationMachine.implementations.actors).filter((a) => a !== 'sleepUntil');
    for (const actor of actors) expect(stepOfActor(actor), actor).toBeDefined();
    // A step actor's name is typed to give a step, so the driver needs no fallback for it.
    const polled: StepName = stepOfActor('awaitCertificate');
    expect(polled).toBe('generateCertificate');
    expect(stepOfActor('attachKeyCredential')).toBe('attachKeyCredential');
    expect(stepOfActor('sleepUntil')).toBeUndefined();
    expect(stepOfActor('noSuchActor')).toBeUndefined();
  });

  it('places each step in the top-level state that invokes its actors', () => {
    for (const name of STEP_NAMES) {
      const { state, actors } = stepFacts(name);
      const node = topStates[state];
      expect(node, `${name}: state ${state}`).toBeDefined();
      for (const actor of actors) expect(invokedUnder(node!), `${name} in ${state}`).toContain(actor);
    }
  });

  it('has one gated step, with its question, for every state with a confirming gate, and none elsewhere', () => {
    const gated = Object.entries(topStates)
      .filter(([, node]) => 'confirming' in node.states)
      .map(([key]) => key);
    expect(gated).toEqual(['generating', 'attaching', 'installing', 'detectingPlatformKey', 'retiring', 'rollingBack']);
    for (const state of gated) {
      expect(gatedStepOf(state)?.state).toBe(state);
      expect(confirmQuestionFor(state)).toMatch(/\?$/);
    }
    expect(gatedStepOf('attaching')?.name).toBe('attachKeyCredential');
    expect(confirmQuestionFor('attaching')).toBe('Attach the new key to the app registration?');
    for (const state of ['preflight', 'verifying', 'awaitingOperator', 'succeeded']) {
      expect(confirmQuestionFor(state), state).toBeUndefined();
    }
  });

  it('gives every step a title and a wait text, and tells steps from other journal names', () => {
    for (const name of STEP_NAMES) {
      expect(stepFacts(name).name).toBe(name);
      expect(stepFacts(name).title.length).toBeGreaterThan(3);
      expect(stepFacts(name).waitingFor.length).toBeGreaterThan(3);
    }
    expect(isStepName('verifyNewKey')).toBe(true);
    expect(isStepName('run')).toBe(false);
    expect(isStepName('toString')).toBe(false);
  });
});
