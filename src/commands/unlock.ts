import type { ForcedRelease, LockHolder } from '../adapters/ports.js';
import { openStateBackend } from '../adapters/state/index.js';
import { UsageError, type CommandContext } from './context.js';

/** Why a lock was not removed, in words for the operator. */
function refusal(target: string, result: Extract<ForcedRelease, { status: 'refused' }>): string {
  const h: LockHolder = result.holder;
  switch (result.reason) {
    case 'processAlive':
      return (
        `target "${target}" is locked by run ${h.runId}, whose process ${h.pid} is still running on this host ` +
        `(${h.host}); unlock never removes the lock of a live run (two processes would drive it at once): let it ` +
        `finish, or stop process ${h.pid} (Ctrl-C leaves it resumable) and unlock again`
      );
    case 'leaseActive':
      return (
        `target "${target}" is locked by run ${h.runId} (pid ${h.pid} on ${h.host}), whose lease runs until ` +
        `${h.leaseExpiresAt}; its process cannot be checked from this host, so the lock stays until that lease ` +
        'expires: stop the run there, or unlock again after the lease (with azure-blob state, `--break-lease` ' +
        'breaks it now and stops that run before its next step)'
      );
    case 'takeoverInProgress':
      return (
        `target "${target}" is being taken over by another run right now (it was held by run ${h.runId}, pid ` +
        `${h.pid} on ${h.host}); run \`certrotate unlock ${target} --force\` again in a moment`
      );
  }
}

/**
 * `unlock TARGET --force`: removes a target's lock when its holder is gone (its process on this host has exited, or
 * its lease expired on another host). A live holder's lock is refused with exit 4 (I5's escape hatch must not break
 * I5).
 */
export async function unlockCommand(
  ctx: CommandContext,
  target: string,
  force: boolean,
  opts: { breakLease?: boolean } = {},
): Promise<number> {
  if (!force) {
    throw new UsageError(
      `unlock removes the lock of target "${target}" if the run holding it is gone; pass --force to confirm`,
    );
  }
  const { config } = await ctx.config();
  if (!config.targets.some((t) => t.name === target)) {
    ctx.logger.warn({ target }, 'target is not in the configuration; removing its lock anyway');
  }
  const lock = openStateBackend(config).lock;
  // The holder is named before anything is broken, so the operator sees whose run an explicit break stops.
  const before = opts.breakLease ? await lock.holder(target) : undefined;
  if (before) {
    process.stderr.write(
      `target ${target} is held by run ${before.runId} (pid ${before.pid} on ${before.host}, lease until ` +
        `${before.leaseExpiresAt}); --break-lease: a holder whose lease is broken stops before its next step\n`,
    );
  }
  const result = await lock.forceRelease(target, opts.breakLease ? { breakLease: true } : {});
  if (result.status === 'refused') {
    // Exit 4 (held by another run), like rotate refusing a locked target; loaded only on this path.
    const { TargetBusyError } = await import('../runs/runner.js');
    throw new TargetBusyError(refusal(target, result), result.holder.runId);
  }
  const holder = result.status === 'removed' ? result.holder : undefined;
  ctx.print({ formatVersion: 1, target, removed: Boolean(holder), holder: holder ?? null }, () =>
    holder
      ? `Removed the lock of ${target} held by run ${holder.runId} (pid ${holder.pid} on ${holder.host}).`
      : `Target ${target} was not locked.`,
  );
  return 0;
}
