import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
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
