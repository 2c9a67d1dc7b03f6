import { FileTargetLock } from '../runs/file-lock.js';
import { UsageError, type CommandContext } from './context.js';

/** `unlock TARGET --force`: removes a target's lock whoever holds it (I5's escape hatch). */
export async function unlockCommand(ctx: CommandContext, target: string, force: boolean): Promise<number> {
  if (!force) {
    throw new UsageError(
      `unlock removes the lock of target "${target}" even if a run still holds it; pass --force to confirm`,
    );
  }
  const { stateDir, config } = await ctx.config();
  if (!config.targets.some((t) => t.name === target)) {
    ctx.logger.warn({ target }, 'target is not in the configuration; removing its lock anyway');
  }
  const holder = await new FileTargetLock(stateDir).forceRelease(target);
  ctx.print({ formatVersion: 1, target, removed: Boolean(holder), holder: holder ?? null }, () =>
    holder
      ? `Removed the lock of ${target} held by run ${holder.runId} (pid ${holder.pid} on ${holder.host}).`
      : `Target ${target} was not locked.`,
  );
  return 0;
}
