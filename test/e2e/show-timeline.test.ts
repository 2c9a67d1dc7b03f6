/**
 * `show RUN_ID` after a real rotation against the sandbox: the timeline drawn from the journal (a lane per step with
 * its time and attempts, the operator lane, the outcome), then the journal; `--json` stays the journal document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, parseJson, startE2eSandbox, type RunDocument, type Sandbox } from '../helpers/sandbox.js';

describe('show RUN_ID after a rotation', () => {
  let sb: Sandbox;
  let doc: RunDocument;

  beforeAll(async () => {
    sb = await startE2eSandbox({ propagationDelaySeconds: 5 });
    const r = await cli(sb.configPath, ['--json', 'rotate', 'contoso-api', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    doc = parseJson<RunDocument>(r);
  });
  afterAll(() => sb?.stop());

  it('draws a lane per step with its duration and attempts, the operator lane and the outcome', async () => {
    const r = await cli(sb.configPath, ['show', doc.runId]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out.split('\n')[0]).toBe(`Run ${doc.runId} — target contoso-api — succeeded`);
    expect(out).toMatch(/^ {2}\d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z, [\d.]+s, run by \S+@\S+$/m);
    expect(out).not.toContain('\u001b['); // no colour off a terminal
    for (const step of doc.steps) {
      const lane = new RegExp(`^ {2}${step.name} +[█░·✗]+ {2}(\\S+)(, (\\d+) attempts)?$`, 'm').exec(out);
      expect(lane, `lane of ${step.name} in\n${out}`).not.toBeNull();
      expect(Number(lane![3] ?? 1)).toBe(step.attempts);
    }
    // Entra takes 5 s to accept the new key: its lane shows the wait before the second attempt.
    const propagation = doc.steps.find((s) => s.name === 'awaitPropagation')!;
    expect(propagation.attempts).toBeGreaterThan(1);
    expect(out).toMatch(/^ {2}awaitPropagation +[·]*█+░+█+/m);
    expect(out).toMatch(/^ {2}operator +▶ +●$/m);
    expect(out).toMatch(/▶ \+0ms +run started — rotate contoso-api --yes/);
    expect(out).toMatch(/● \+[\d.]+s +outcome succeeded/);
    expect(out).toContain('  Journal:');
    expect(out).toMatch(/awaitPropagation\s+retrying\s+attempt 2 in \d+ ms after keyNotFound/);
  });

  it('keeps --json the journal document', async () => {
    const r = await cli(sb.configPath, ['--json', 'show', doc.runId]);
    expect(r.code, r.stderr).toBe(0);
    const shown = parseJson<Record<string, unknown> & { journal: { step: string; event: string }[] }>(r);
    expect(Object.keys(shown).sort()).toEqual(
      ['formatVersion', 'journal', 'outcome', 'runId', 'state', 'target', 'updatedAt'].sort(),
    );
    expect(shown).toMatchObject({ formatVersion: 1, runId: doc.runId, target: 'contoso-api', outcome: 'succeeded' });
    expect(shown.journal.at(-1)).toMatchObject({ step: 'succeeded', event: 'succeeded' });
  });
});
