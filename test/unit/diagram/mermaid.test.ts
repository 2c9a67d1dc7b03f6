import { describe, expect, it } from 'vitest';
import { fromPromise, setup } from 'xstate';
import { toMermaid } from '../../../src/diagram/mermaid.js';

const machine = setup({
  guards: { keyAlreadyAttached: () => false },
  actors: {},
}).createMachine({
  id: 'demo',
  initial: 'idle',
  states: {
    idle: { meta: { title: 'Waiting: to start' }, on: { START: 'working' } },
    working: {
      initial: 'first',
      states: {
        first: { on: { NEXT: { target: 'second', guard: 'keyAlreadyAttached' } } },
        second: { type: 'final' },
      },
      onDone: 'done',
      on: { CANCEL: '#demo.idle' },
    },
    done: { type: 'final' },
  },
});

describe('toMermaid', () => {
  it('renders nested states, initial and final markers, events, guards and titles', () => {
    expect(toMermaid(machine)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> idle',
        '  idle : Waiting  to start',
        '  state working {',
        '    [*] --> working__first',
        '    working__first --> working__second : NEXT [keyAlreadyAttached]',
        '    working__second --> [*]',
        '  }',
        '  idle --> working : START',
        '  working --> idle : CANCEL',
        '  working --> done : done',
        '  done --> [*]',
        '',
      ].join('\n'),
    );
  });

  it('omits guards when asked', () => {
    expect(toMermaid(machine, { guards: false })).toContain('working__first --> working__second : NEXT\n');
  });
});

describe('toMermaid with invoked actors', () => {
  it('labels done and error transitions with the invoked actor name, not its generated id', () => {
    const m = setup({
      actors: { attachKeyCredential: fromPromise(async () => 'ok') },
    }).createMachine({
      initial: 'attaching',
      states: {
        attaching: { invoke: { src: 'attachKeyCredential', onDone: 'attached', onError: 'failed' } },
        attached: { type: 'final' },
        failed: { type: 'final' },
      },
    });
    const text = toMermaid(m);
    expect(text).toContain('attaching --> attached : attachKeyCredential done');
    expect(text).toContain('attaching --> failed : attachKeyCredential failed');
  });
});
