import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RotationPlan } from '../machines/plan.js';
import { buildPlan } from '../runs/plan-fingerprint.js';
import { findTarget, rotationInputFor } from '../runs/target-input.js';
import type { CommandContext } from './context.js';
import { nextCommand } from '../next-step.js';
import { observeTarget } from './observe.js';
import { portsForTarget } from './target-ports.js';
import type { IdentityTargetRow } from './identity.js';
import { identityLine, identitySummary, targetIdentity } from './identity-line.js';
import { openStateBackend } from '../adapters/state/index.js';
import { inFlightMessage, type CredentialInventory } from '../machines/credential-inventory.js';
import { inventoryFrom } from '../runs/world-guard.js';
import { inventoryJson } from './inventory-json.js';
import { preflightVerdict } from '../machines/preflight.js';

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
  if (plan.refused)
    lines.push(`Cannot rotate ${plan.target}: ${plan.refused.message}. Nothing is pending until that is fixed.`);
  else lines.push(changes ? `${changes} change(s) pending.` : 'No changes: nothing is due.');
  if (plan.options?.force) lines.push('made with --force: `rotate --plan` applies it forced');
  lines.push(`fingerprint ${plan.fingerprint}`);
  return lines.join('\n');
}

/**
 * The credential lines under a keyvault plan: another run in flight (rotate exits 4), orphaned keys to prune, and
 * orphaned Key Vault versions (on no credential, their run over) that prune disables — as `scan` lists them.
 */
export function inventoryText(target: string, inventory: CredentialInventory): string {
  const lines: string[] = [];
  if (inventory.inFlight) lines.push(`! in flight: ${inFlightMessage(target, inventory.inFlight)}; rotate exits 4`);
  for (const o of inventory.orphans) {
    lines.push(`! orphaned key ${o.thumbprint} (${o.why}): \`certrotate prune ${target}\` retires it`);
  }
  for (const v of inventory.orphanVersions) {
    lines.push(
      `! orphaned Key Vault version ${v.version} (key ${v.thumbprint}, run ${v.runId}; ${v.why}): ` +
        `\`certrotate prune ${target}\` disables it`,
    );
  }
  return lines.length ? `\n${lines.join('\n')}` : '';
}

/** The identity line under a power-pages plan: src/commands/identity-line.ts (shared with rotate's preflight). */
export { identityLine } from './identity-line.js';

/** True when applying the plan would change anything (a refused plan changes nothing: the rotation stops). */
export function planHasChanges(plan: RotationPlan): boolean {
  return !plan.refused && plan.steps.some((s) => s.action !== 'noChange');
}

/** `plan TARGET`: a dry run. Real reads, no write to any service (I6). */
export async function planCommand(ctx: CommandContext, targetName: string, opts: PlanOptions): Promise<number> {
  const { config } = await ctx.config();
  const target = findTarget(config, targetName);
  const ports = await portsForTarget(ctx, config, target);
  const input = rotationInputFor(config, target, { runId: 'plan', force: opts.force });
  const observation = await observeTarget(ports, input);
  const plan = buildPlan(observation, input);
  // keyvault: what every credential on the app is, as rotate's world guard will judge it (reads only).
  let inventory: CredentialInventory | undefined;
  if (target.kind === 'keyvault') {
    const { store, lock } = openStateBackend(config);
    // A manual server cannot tell: the key preflight takes as in service stands in.
    const decision = preflightVerdict(observation, input);
    const inUse = observation.server.thumbprint ?? ('key' in decision ? decision.key.thumbprint : undefined);
    ({ inventory } = await inventoryFrom({ store, lock, staleRunAfterMs: config.defaults.staleRunAfter }, target.name, {
      now: observation.now,
      credentials: observation.app.keyCredentials,
      versions: observation.versions,
      ...(inUse ? { inUseThumbprint: inUse } : {}),
    }));
  }
  // The identity verdict (power-pages) is informational: read before the document, outside the fingerprint.
  const identity: IdentityTargetRow | undefined =
    target.kind === 'power-pages' ? await targetIdentity(ctx, config, target) : undefined;
  // The inventory rides beside the plan, outside its fingerprint: `rotate --plan` re-judges the world itself.
  const planned = identity ? { ...plan, identity: identitySummary(identity) } : plan;
  const document = inventory
    ? {
        ...planned,
        // As in scan's row: the credentials and the versions prune disables, one shape for both.
        ...inventoryJson(inventory),
        inFlight: inventory.inFlight
          ? { runId: inventory.inFlight.runId, message: inFlightMessage(target.name, inventory.inFlight) }
          : null,
      }
    : planned;
  if (opts.out) await writeFile(resolve(opts.out), `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 });
  ctx.print(
    document,
    () =>
      planText(plan) +
      (inventory ? inventoryText(target.name, inventory) : '') +
      (identity ? `\n${identityLine(target.name, identity, ctx.options.config)}` : '') +
      (opts.out
        ? `\nSaved to ${opts.out}; apply it with ${nextCommand(['rotate', targetName, '--plan', opts.out], ctx.options.config)}`
        : ''),
  );
  // A target that cannot be rotated is an error to fix (exit 1), never a pending change (2).
  if (plan.refused) return 1;
  return opts.detailedExitcode && planHasChanges(plan) ? 2 : 0;
}
