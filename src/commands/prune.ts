/**
 * `prune TARGET [--yes]`: retires the orphaned certificate credentials of a keyvault target's app — valid keys the
 * server does not use and no live run will retire (src/machines/credential-inventory.ts) — and disables their
 * certrotate-made Key Vault versions. The plan comes first (each key, and why it goes or stays), then a question
 * (guided) or `--yes`. It never removes the key the server uses, nor a key it cannot show unused: the server must
 * report another key, and where certrotate may read Entra's sign-in log, the key must have no sign-in since the
 * server moved on (without that permission prune says so and goes by the server's report alone). It holds the
 * target's lock, refuses while a run of the target is unfinished here or in flight in the world, and journals what
 * it did under a prune id (`certrotate show PRUNE_ID`). I1–I3 hold: the key in use stays, every step re-observes.
 *
 * It also disables orphaned Key Vault versions: enabled versions certrotate made that no credential of the app holds
 * and whose run is over (a create that completed after its run ended). Entra accepts no sign-in with a key that is
 * not on the app, so the evidence is the app itself; each is re-observed right before it is disabled
 * (src/runs/orphan-version.ts), so a version a run attached since the plan, or the server now uses, stays.
 */
import { hostname, userInfo } from 'node:os';
import { toPortError, type JournalEntry, type KeyRef, type SignInLog } from '../adapters/ports.js';
import { sweepStaleKeyFiles } from '../adapters/servers/key-files.js';
import { openStateBackend } from '../adapters/state/index.js';
import { blockingRunMessage, findBlockingRun } from '../adapters/state/open-runs.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import {
  DEFAULT_STALE_RUN_AFTER_MS,
  inFlightMessage,
  signInWindowStart,
  type InventoryEntry,
} from '../machines/credential-inventory.js';
import { runIdOfVersion } from '../machines/world-markers.js';
import { withConfigOption } from '../next-step.js';
import { newRunId, TargetBusyError } from '../runs/runner.js';
import { systemClock } from '../runs/system-clock.js';
import { findTarget, rotationInputFor } from '../runs/target-input.js';
import { disableOrphanVersion } from '../runs/orphan-version.js';
import { observeInventory } from '../runs/world-guard.js';
import type { CommandContext } from './context.js';
import { portsForTarget } from './target-ports.js';

/** One key in prune's plan: removed, or kept with the reason. */
export interface PruneDecision {
  thumbprint: string;
  keyId: string;
  runId: string | null;
  /** Why it is an orphan (its inventory line). */
  why: string;
  /** What shows it unused, or why it stays. */
  evidence: string;
  action: 'remove' | 'keep';
}

/** One orphaned Key Vault version in prune's plan: certrotate made it, no credential holds it, its run is over. */
export interface PruneVersionDecision {
  version: string;
  thumbprint: string;
  runId: string;
  /** Why it is an orphan (its inventory line). */
  why: string;
  evidence: string;
  action: 'disable';
}

/** What prune found and did (the `--json` document). */
export interface PruneDocument {
  formatVersion: 1;
  pruneId: string;
  target: string;
  /** The key the server uses: never removed. */
  inUse: string;
  /** Whether Entra's sign-in log could be read, and if not why. */
  signInLog: { readable: boolean; note?: string };
  decisions: PruneDecision[];
  removed: { thumbprint: string; keyId: string; result: 'removed' | 'alreadyGone'; versionDisabled: string | null }[];
  /** Orphaned Key Vault versions (no credential holds them) to disable. */
  versionDecisions: PruneVersionDecision[];
  /** What became of each: disabled, already disabled, or kept because a premise failed when re-observed. */
  versionsDisabled: {
    version: string;
    thumbprint: string;
    result: 'disabled' | 'alreadyDisabled' | 'kept';
    why?: string;
  }[];
  /** `nothing` to remove, the operator `declined`, or `pruned`. */
  outcome: 'nothing' | 'declined' | 'pruned';
}

function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `uid-${process.getuid?.() ?? '?'}@${hostname()}`;
  }
}

/** The plan as text: the key in use, then each orphan with what happens to it and why. */
export function pruneText(doc: PruneDocument): string {
  const lines = [`Prune plan for ${doc.target} (${doc.pruneId}):`, `  = ${doc.inUse} in use by the server: kept`];
  for (const d of doc.decisions) {
    lines.push(
      `  ${d.action === 'remove' ? '-' : '='} ${d.thumbprint} ${d.action === 'remove' ? 'remove' : 'keep'}: ${d.why}; ${d.evidence}`,
    );
  }
  for (const v of doc.versionDecisions) {
    lines.push(`  - version ${v.version} (${v.thumbprint}) disable: ${v.why}; ${v.evidence}`);
  }
  if (!doc.signInLog.readable && doc.decisions.length > 0)
    lines.push(`  note: ${doc.signInLog.note ?? 'the sign-in log was not read'}; judged by the server's report alone`);
  if (doc.decisions.length === 0 && doc.versionDecisions.length === 0)
    lines.push('No orphaned keys: nothing to prune.');
  return lines.join('\n');
}

/** The decision for one orphan: the server reports another key; the sign-in log, where readable, shows no use. */
async function decide(
  signIns: SignInLog,
  appId: string,
  entry: InventoryEntry,
  since: string,
  serverKey: string,
): Promise<{ decision: PruneDecision; unreadable?: string }> {
  const base = { thumbprint: entry.thumbprint, keyId: entry.keyId, runId: entry.runId, why: entry.why };
  const server = `the server uses ${serverKey}`;
  const log = await signIns.lastSignInWithKey(appId, { keyId: entry.keyId, thumbprint: entry.thumbprint }, since);
  if (!log.readable) return { decision: { ...base, action: 'remove', evidence: server }, unreadable: log.reason };
  if (log.lastSignIn) {
    return {
      decision: {
        ...base,
        action: 'keep',
        evidence: `signed in at ${log.lastSignIn}, after ${since}: something still uses it; find it first`,
      },
    };
  }
  return { decision: { ...base, action: 'remove', evidence: `${server}; no sign-in with it since ${since}` } };
}

/** `prune TARGET`: plan, confirm, remove the orphans, disable their versions, journal it. */
export async function pruneCommand(ctx: CommandContext, targetName: string): Promise<number> {
  const { config } = await ctx.config();
  const target = findTarget(config, targetName);
  if (target.kind !== 'keyvault') {
    throw new UsageError(
      `target "${targetName}" is a power-pages target: the platform holds its keys, and its rotation retires the ` +
        'old one after Update key; prune applies to keyvault targets',
    );
  }
  const guided = ctx.interactive && !ctx.options.yes;
  if (!ctx.interactive && !ctx.options.yes) {
    throw new UsageError(
      `prune removes key credentials from the app of "${targetName}" and cannot ask here (no terminal, or ` +
        `CI=true); pass --yes (\`certrotate scan\` or \`certrotate plan ${targetName}\` shows the orphans first)`,
    );
  }
  // Its plan and results own stderr: info logs go to --log-file only, as in rotate and resume.
  if (!ctx.options.json) ctx.logsBesideProgress();
  // Key files left by a killed certrotate go first (DESIGN I4), as rotate and resume do.
  await sweepStaleKeyFiles({ logger: ctx.logger });
  const { store, lock } = openStateBackend(config);
  const ports = await portsForTarget(ctx, config, target);
  const { createAzureAdapters } = await import('../adapters/azure/index.js');
  const signIns = createAzureAdapters(config, { logger: ctx.logger, clock: systemClock, env: ctx.env }).signIns;
  const input = rotationInputFor(config, target, { runId: 'prune' });
  const staleRunAfterMs = config.defaults.staleRunAfter ?? DEFAULT_STALE_RUN_AFTER_MS;
  const pruneId = newRunId(target.name, systemClock.now());
  const actor = whoAmI();
  const journal = (event: string, detail?: string, extra: Partial<JournalEntry> = {}) =>
    store.appendJournal({
      time: new Date(systemClock.now()).toISOString(),
      runId: pruneId,
      target: target.name,
      step: 'prune',
      event,
      actor,
      ...(detail ? { detail } : {}),
      ...extra,
    });

  // One mutation per target at a time (I5): prune takes the lock a rotation would.
  const got = await lock.acquire(target.name, pruneId);
  if (!got.acquired) {
    throw new TargetBusyError(
      `target "${target.name}" is locked by run ${got.holder.runId} (pid ${got.holder.pid} on ${got.holder.host}); ` +
        'prune never runs beside a rotation: wait for it',
      got.holder.runId,
    );
  }
  try {
    const open = await findBlockingRun(store, target.name);
    if (open) throw new TargetBusyError(blockingRunMessage(open, target.name), open.runId);
    const observed = await observeInventory(ports, { store, lock, staleRunAfterMs }, input);
    const { inventory } = observed;
    const other = inventory.inFlight;
    if (other && other.runId !== pruneId) throw new TargetBusyError(inFlightMessage(target.name, other), other.runId);
    const inUse = inventory.entries.find((e) => e.role === 'inUse');
    if (!observed.serverThumbprint || !inUse) {
      throw new UsageError(
        observed.serverThumbprint
          ? `the server of "${target.name}" uses key ${observed.serverThumbprint}, which is not on app ` +
              `${target.app.appId}: prune never changes a target in that state; fix the server or the app first`
          : `the server of "${target.name}" cannot report the key it uses (manual): prune needs that report to ` +
              'show a key unused; check the orphans `certrotate scan` lists by hand',
      );
    }

    const decisions: PruneDecision[] = [];
    let unreadable: string | undefined;
    for (const orphan of inventory.orphans) {
      const since = signInWindowStart(orphan, inventory, observed.input);
      const d = await decide(signIns, target.app.appId, orphan, since, inUse.thumbprint);
      decisions.push(d.decision);
      unreadable ??= d.unreadable;
    }
    // A key on no credential of the app signs nobody in: the app read is the evidence, not the sign-in log.
    const versionDecisions: PruneVersionDecision[] = inventory.orphanVersions.map((v) => ({
      version: v.version,
      thumbprint: v.thumbprint,
      runId: v.runId,
      why: v.why,
      evidence: `on no credential of app ${target.app.appId}, so Entra accepts no sign-in with it; the server uses ${inUse.thumbprint}`,
      action: 'disable',
    }));
    const doc: PruneDocument = {
      formatVersion: 1,
      pruneId,
      target: target.name,
      inUse: inUse.thumbprint,
      signInLog: unreadable ? { readable: false, note: unreadable } : { readable: true },
      decisions,
      removed: [],
      versionDecisions,
      versionsDisabled: [],
      outcome: 'nothing',
    };
    const toRemove = decisions.filter((d) => d.action === 'remove');
    const changes = [
      ...(toRemove.length ? [`remove ${toRemove.length} key(s) from app ${target.app.appId}`] : []),
      ...(versionDecisions.length ? [`disable ${versionDecisions.length} Key Vault version(s)`] : []),
    ];
    if (changes.length === 0) {
      ctx.print(doc, () => pruneText(doc));
      return ExitCode.ok;
    }
    if (guided) {
      // The plan goes to stderr outside ctx.print: any command it names gets the --config in use all the same.
      process.stderr.write(`${withConfigOption(pruneText(doc), ctx.options.config)}\n`);
      const { askToProceed } = await import('./confirm.js');
      const what = changes.join(' and ');
      const answer = await askToProceed(`${what.charAt(0).toUpperCase()}${what.slice(1)}?`);
      if (answer !== 'yes') {
        doc.outcome = 'declined';
        ctx.print(doc, () => 'Nothing removed.');
        return ExitCode.ok;
      }
    }
    await journal('started', `${guided ? 'guided' : '--yes'}: ${changes.join('; ')}`, {
      oldThumbprint: inUse.thumbprint,
    });
    for (const d of decisions.filter((x) => x.action === 'keep'))
      await journal('kept', `${d.thumbprint}: ${d.evidence}`);

    // The in-use key signs the removeKey proofs: the one key prune is certain stays.
    const proof: KeyRef | undefined = proofKeyOf(observed.input.versions, inUse);
    for (const d of toRemove) {
      // Re-observe before each removal (I3, I1): a server that moved onto this key since the plan keeps it.
      const now = await ports.server!.currentKey();
      if (now.thumbprint?.toUpperCase() !== inUse.thumbprint) {
        await journal('failed', `the server moved from ${inUse.thumbprint} to ${now.thumbprint ?? '(none)'}`);
        throw new UsageError(
          `the server of "${target.name}" now uses ${now.thumbprint ?? 'no key'} (it used ${inUse.thumbprint} ` +
            `when prune planned): nothing more was removed; run \`certrotate prune ${target.name}\` again`,
        );
      }
      let result: 'removed' | 'alreadyGone' = 'removed';
      try {
        if (proof) await ports.apps.removeKey(target.app.appId, d.keyId, proof);
        else await ports.apps.patchKeyCredentials(target.app.appId, { removeKeyIds: [d.keyId] });
      } catch (err) {
        if (toPortError(err).code !== 'notFound') {
          await journal('failed', `${d.thumbprint}: ${toPortError(err).message}`);
          throw err;
        }
        result = 'alreadyGone';
      }
      await journal('removed', `${d.thumbprint} (keyId ${d.keyId}): ${d.evidence}`);
      const entry = inventory.orphans.find((o) => o.keyId === d.keyId)!;
      const versionDisabled = await disableVersion(ports, input.keyVault!.certificate, entry, observed.input.versions);
      if (versionDisabled) await journal('versionDisabled', `Key Vault version ${versionDisabled} of ${d.thumbprint}`);
      doc.removed.push({ thumbprint: d.thumbprint, keyId: d.keyId, result, versionDisabled });
    }
    // Orphaned versions: each re-observed right before it is disabled (a premise that fails keeps it, and says why).
    const sources = { store, lock, staleRunAfterMs };
    for (const v of versionDecisions) {
      const done = await disableOrphanVersion(ports, sources, input, v.version);
      if (done.result === 'kept')
        await journal('kept', `Key Vault version ${v.version} of ${v.thumbprint}: ${done.why}`);
      else if (done.result === 'alreadyDisabled')
        // Someone (another agent's prune, a person) disabled it since the plan: this prune wrote nothing.
        await journal('alreadyDisabled', `Key Vault version ${v.version} of ${v.thumbprint} (run ${v.runId})`);
      else
        await journal(
          'versionDisabled',
          `Key Vault version ${v.version} of ${v.thumbprint} (run ${v.runId}): ${v.why}`,
        );
      doc.versionsDisabled.push({
        version: v.version,
        thumbprint: v.thumbprint,
        result: done.result,
        ...(done.result === 'kept' ? { why: done.why } : {}),
      });
    }
    // I1: the key in use is still on the app.
    const after = await ports.apps.getApp(target.app.appId);
    if (!after.keyCredentials.some((k) => k.thumbprint.toUpperCase() === inUse.thumbprint)) {
      await journal('failed', `the key in use ${inUse.thumbprint} is no longer on the app`);
      throw new Error(`the key in use ${inUse.thumbprint} is no longer on app ${target.app.appId}: restore it now`);
    }
    doc.outcome = 'pruned';
    const disabled = doc.versionsDisabled.filter((v) => v.result === 'disabled').length;
    const already = doc.versionsDisabled.filter((v) => v.result === 'alreadyDisabled').length;
    const versionsText = versionDecisions.length
      ? `; disabled ${disabled} Key Vault version(s)${already ? ` (${already} already disabled)` : ''}`
      : '';
    await journal('succeeded', `removed ${doc.removed.length} key(s)${versionsText}; kept ${inUse.thumbprint} in use`);
    ctx.print(doc, () => {
      const kept = doc.versionsDisabled
        .filter((v) => v.result === 'kept')
        .map((v) => `\nKept version ${v.version}: ${v.why}`)
        .join('');
      return (
        `${pruneText(doc)}\nRemoved ${doc.removed.length} key(s)${versionsText}.${kept}${kept ? '\n' : ' '}` +
        `Journal: \`certrotate show ${pruneId}\``
      );
    });
    return ExitCode.ok;
  } finally {
    await store.flush();
    await lock.release(target.name, pruneId);
  }
}

/** The in-use key as a proof key, when the vault holds its version (it can then sign removeKey proofs). */
function proofKeyOf(
  versions: readonly { thumbprint: string; secretId: string; enabled: boolean }[],
  inUse: InventoryEntry,
): KeyRef | undefined {
  const version = [...versions].reverse().find((v) => v.thumbprint.toUpperCase() === inUse.thumbprint);
  return version ? { thumbprint: inUse.thumbprint, secretId: version.secretId } : undefined;
}

/** Disables an orphan's vault version when a certrotate run made it (its run tag); returns the version, or null. */
async function disableVersion(
  ports: Awaited<ReturnType<typeof portsForTarget>>,
  certificate: string,
  entry: InventoryEntry,
  versions: readonly { version: string; tags: Record<string, string>; enabled: boolean }[],
): Promise<string | null> {
  const version = versions.find((v) => v.version === entry.version);
  // Only certrotate's own versions: a version someone else made is theirs to manage.
  if (!version || !runIdOfVersion(version.tags) || !version.enabled) return null;
  await ports.certificates.setVersionEnabled(certificate, version.version, false);
  return version.version;
}
