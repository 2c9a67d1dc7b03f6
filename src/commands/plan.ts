import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RotationPlan } from '../machines/plan.js';
import { buildPlan } from '../runs/plan-fingerprint.js';
import { findTarget, rotationInputFor } from '../runs/target-input.js';
import type { CommandContext } from './context.js';
import { observeTarget } from './observe.js';
import { portsForTarget } from './target-ports.js';

/** Options of `plan`. */
export interface PlanOptions {
  /** Write the plan document here, for `rotate --plan FILE` (an approval gate in pipelines). */
  out?: string;
  /** Exit 2 when the plan has changes. */
  detailedExitcode?: boolean;
  force?: boolean;
}

const SIGN: Record<string, string> = { create: '+', modify: '~', delete: '-', noChange: '=', manual: '!' };

/** The plan as terraform-like text. */
export function planText(plan: RotationPlan): string {
  const lines = [`Plan for ${plan.target} (${plan.kind}):`];
  for (const s of plan.steps) lines.push(`  ${SIGN[s.action] ?? '?'} ${s.name.padEnd(22)} ${s.summary}`);
  const changes = plan.steps.filter((s) => s.action !== 'noChange').length;
  lines.push(changes ? `${changes} change(s) pending.` : 'No changes: nothing is due.');
  lines.push(`fingerprint ${plan.fingerprint}`);
  return lines.join('\n');
}

/** True when applying the plan would change anything. */
export function planHasChanges(plan: RotationPlan): boolean {
  return plan.steps.some((s) => s.action !== 'noChange');
}

/** `plan TARGET`: a dry run. Real reads, no write to any service (I6). */
export async function planCommand(ctx: CommandContext, targetName: string, opts: PlanOptions): Promise<number> {
  const { config } = await ctx.config();
  const target = findTarget(config, targetName);
  const ports = await portsForTarget(ctx, config, target);
  const input = rotationInputFor(config, target, { runId: 'plan', force: opts.force });
  const plan = buildPlan(await observeTarget(ports, input), input);
  if (opts.out) await writeFile(resolve(opts.out), `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 });
  ctx.print(
    plan,
    () =>
      planText(plan) +
      (opts.out ? `\nSaved to ${opts.out}; apply it with certrotate rotate ${targetName} --plan ${opts.out}` : ''),
  );
  return opts.detailedExitcode && planHasChanges(plan) ? 2 : 0;
}
