import { describe, expect, it } from 'vitest';
import { rotationMachine } from '../../src/machines/rotation.js';
import { runCli } from '../helpers/cli.js';

describe('certrotate diagram', () => {
  it('prints the Mermaid diagram of the rotation machine, kept honest by a snapshot', async () => {
    const r = await runCli(['diagram', '--format', 'mermaid']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('stateDiagram-v2\n')).toBe(true);
    // Every top-level state of the machine appears in the diagram.
    for (const state of Object.keys(rotationMachine.root.states)) expect(r.stdout).toContain(state);
    await expect(r.stdout).toMatchFileSnapshot('__snapshots__/rotation.mmd');
  });

  it('refuses an unknown format naming the option and the choices', async () => {
    const r = await runCli(['diagram', '--format', 'dot']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('option --format: got "dot"; expected one of mermaid');
  });
});
