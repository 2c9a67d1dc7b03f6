/**
 * Progress lines (src/commands/progress.ts): a command a line offers carries the --config in use, and a long message
 * is clipped without cutting a command in half.
 */
import { describe, expect, it } from 'vitest';
import { clip, ProgressLines } from '../../../src/commands/progress.js';
import type { RunEvent } from '../../../src/runs/events.js';

const parked = (message: string): RunEvent => ({
  type: 'parked',
  at: 0,
  state: 'awaitingOperator',
  reason: 'declined',
  message,
  outcome: 'awaitingOperator',
});

describe('progress lines', () => {
  it('give the command of a park the --config in use, and none for the default config', () => {
    const message = 'The operator declined to continue; run `certrotate resume r-1` to be asked again.';
    expect(new ProgressLines('/etc/certrotate/prod.yaml').line(parked(message))).toBe(
      '⏸ awaitingOperator parked — The operator declined to continue; run ' +
        '`certrotate resume r-1 --config /etc/certrotate/prod.yaml` to be asked again.',
    );
    expect(new ProgressLines().line(parked(message))).toBe(`⏸ awaitingOperator parked — ${message}`);
  });

  it('clip a long message before a command rather than through it', () => {
    const message = `${'x'.repeat(140)} then run \`certrotate resume 20261202T000000Z-contoso-api-abcdef\` again`;
    const line = clip(message);
    expect(line).toBe(`${'x'.repeat(140)} then run ...`);
    expect(line).not.toContain('`');
    // A command wholly before the cut stays, and gets the config.
    const early = `run \`certrotate resume r-1\` ${'y'.repeat(200)}`;
    expect(new ProgressLines('a.yaml').line(parked(early))).toMatch(
      /^⏸ awaitingOperator parked — run `certrotate resume r-1 --config a\.yaml` y+\.\.\.$/,
    );
    expect(clip('short')).toBe('short');
  });

  it('say "superseded" once on the closing line of a superseded run', () => {
    const ended = (outcome: 'superseded' | 'failed', code: string, message: string): RunEvent => ({
      type: 'ended',
      at: 0,
      runId: 'r-1',
      outcome,
      state: outcome,
      failure: { step: 'withdrawAdditions', code, message },
    });
    const message = 'superseded: its key AB12 removed from app app-1; its version v2 disabled';
    expect(new ProgressLines().line(ended('superseded', 'superseded', message))).toBe(
      '■ run r-1 superseded — its key AB12 removed from app app-1; its version v2 disabled',
    );
    // Another outcome keeps its code: it says what went wrong.
    expect(new ProgressLines().line(ended('failed', 'forbidden', 'no access'))).toBe(
      '■ run r-1 failed — forbidden: no access',
    );
  });
});
