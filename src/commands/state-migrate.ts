/**
 * `state migrate --to azure-blob --account-url URL --container NAME [--prefix P]`: copies the runs of the configured
 * local (`file`) state into a blob container, so that agents that share the container see them. Refused while a run
 * is active (a live holder of a target lock): its next writes would go to the old place only. Safe to run again: a
 * run already in the container with the same snapshot and journal is skipped; one that differs is never overwritten.
 */
import { isDeepStrictEqual } from 'node:util';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileTargetLock } from '../adapters/state/file-lock.js';
import { FileRunStore } from '../adapters/state/file-run-store.js';
import { azureBlobStateSchema, type AzureBlobStateConfig } from '../adapters/state/azure-blob.js';
import { openStateBackend } from '../adapters/state/index.js';
import { CORRUPT } from '../adapters/state/run-format.js';
import { UsageError, type CommandContext } from './context.js';

/** Options of `state migrate`. */
export interface StateMigrateOptions {
  to: string;
  accountUrl?: string;
  container?: string;
  prefix?: string;
}

/** The `state` section the flags describe, checked as the config would check it. */
function destination(opts: StateMigrateOptions): AzureBlobStateConfig {
  if (opts.to !== 'azure-blob') {
    throw new UsageError(`option --to: got "${opts.to}"; expected azure-blob (the only state kind to migrate to)`);
  }
  const parsed = azureBlobStateSchema.safeParse({
    kind: 'azure-blob',
    accountUrl: opts.accountUrl,
    container: opts.container,
    ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = { accountUrl: '--account-url', container: '--container', prefix: '--prefix' }[String(issue.path[0])];
    const got = (opts as unknown as Record<string, unknown>)[String(issue.path[0])];
    throw new UsageError(
      `option ${flag ?? issue.path.join('.')}: got ${JSON.stringify(got) ?? 'nothing'}; ${issue.message}`,
    );
  }
  return parsed.data;
}

/** Copies the local runs into the container; exit 0, or 4 when a run is active, 1 when a copy would overwrite. */
export async function stateMigrateCommand(ctx: CommandContext, opts: StateMigrateOptions): Promise<number> {
  const to = destination(opts);
  const { config } = await ctx.config();
  if (config.state.kind !== 'file') {
    throw new UsageError(`state migrate copies file state; this configuration's state.kind is ${config.state.kind}`);
  }
  const dir = config.state.dir;
  const source = new FileRunStore(dir);
  const locks = new FileTargetLock(dir);
  const runs = await source.listRuns();

  const corrupt = runs.filter((r) => r.outcome === CORRUPT);
  if (corrupt.length > 0) {
    throw new UsageError(
      `run ${corrupt[0]!.runId} in ${dir} cannot be read (${corrupt[0]!.error}); repair or remove it, then migrate`,
    );
  }
  // An active run writes its next snapshot here, not there: refuse while any target has a live holder.
  for (const target of new Set([...config.targets.map((t) => t.name), ...runs.map((r) => r.target)])) {
    const holder = await locks.holder(target);
    if (holder && !locks.isStale(holder)) {
      const { TargetBusyError } = await import('../runs/runner.js');
      throw new TargetBusyError(
        `run ${holder.runId} is active on target "${target}" (pid ${holder.pid} on ${holder.host}); ` +
          'let it finish or stop it (Ctrl-C leaves it resumable), then migrate',
        holder.runId,
      );
    }
  }

  const { store, location } = openStateBackend({ ...config, state: to });
  const copied: string[] = [];
  const skipped: string[] = [];
  for (const run of runs) {
    const envelope = (await source.loadSnapshot(run.runId))!;
    const journal = await source.readJournal(run.runId);
    const there = await store.loadSnapshot(run.runId);
    if (there) {
      const same = isDeepStrictEqual(there, envelope) && isDeepStrictEqual(await store.readJournal(run.runId), journal);
      if (!same) {
        throw new UsageError(
          `run ${run.runId} is already in ${location} and differs from ${dir}; nothing of it was overwritten ` +
            '(another agent may have moved it on): compare them with `certrotate show`',
        );
      }
      skipped.push(run.runId);
      continue;
    }
    // Journal first, snapshot last: a copy cut short leaves no snapshot, so it is not listed as a run and the next
    // migrate copies it again from the start.
    const have = await store.readJournal(run.runId);
    if (!isDeepStrictEqual(have, journal.slice(0, have.length))) {
      throw new UsageError(
        `run ${run.runId} has a journal in ${location} that is not the one in ${dir}; nothing of it was overwritten`,
      );
    }
    for (const entry of journal.slice(have.length)) await store.appendJournal(entry);
    const plan = await readFile(join(dir, 'runs', run.runId, 'plan.json'), 'utf8').catch(() => undefined);
    if (plan !== undefined) await store.savePlan(run.runId, JSON.parse(plan));
    await store.saveSnapshot(envelope);
    copied.push(run.runId);
  }
  await store.flush();
  const section = `state: { kind: azure-blob, accountUrl: ${to.accountUrl}, container: ${to.container}${to.prefix ? `, prefix: ${to.prefix}` : ''} }`;
  ctx.print({ formatVersion: 1, from: dir, to: location, copied, skipped }, () =>
    [
      `Copied ${copied.length} run(s) from ${dir} to ${location}${skipped.length ? `; ${skipped.length} already there` : ''}.`,
      `To use it, put this in the configuration:\n  ${section}`,
    ].join('\n'),
  );
  return 0;
}
