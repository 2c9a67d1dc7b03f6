import { UsageError, type CommandContext } from './context.js';

/** The diagram formats `diagram --format` accepts. */
export const DIAGRAM_FORMATS = ['mermaid'] as const;

/** `diagram [--format mermaid]`: the rotation machine as a diagram, derived from its definition. */
export async function diagramCommand(ctx: CommandContext, format: string): Promise<number> {
  if (!(DIAGRAM_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`option --format: got "${format}"; expected one of ${DIAGRAM_FORMATS.join(', ')}`);
  }
  const [{ rotationMachine, ROTATION_MACHINE_VERSION }, { toMermaid }] = await Promise.all([
    import('../machines/rotation.js'),
    import('../diagram/mermaid.js'),
  ]);
  const text = toMermaid(rotationMachine);
  ctx.print({ formatVersion: 1, format, machineVersion: ROTATION_MACHINE_VERSION, diagram: text }, () => text);
  return 0;
}
