/**
 * Soft delete and purge protection, the vault-wide settings behind every object's `recoveryLevel` and
 * `recoverableDays`, and the deleted-object lifetime (docs soft-delete-overview; spec DeletionRecoveryLevel). Azure turns soft delete on for
 * every vault with a 90-day retention; purge protection is opt-in.
 */
import type { KeyVaultServiceOptions } from './options.js';

/** The vault's deletion settings, resolved from the options with Azure's defaults. */
export interface RecoverySettings {
  softDelete: boolean;
  retentionDays: number;
  purgeProtection: boolean;
}

/** What every attributes object carries about deletion. */
export interface RecoveryAttributes {
  recoveryLevel: string;
  recoverableDays?: number;
}

const DEFAULT_RETENTION_DAYS = 90;

/** Resolves the options; a retention outside 7..90 (the range Azure allows) is a programming error. */
export function recoverySettings(opts: KeyVaultServiceOptions): RecoverySettings {
  const retentionDays = opts.softDeleteRetentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isInteger(retentionDays) || retentionDays < 7 || retentionDays > 90) {
    throw new Error(`softDeleteRetentionDays ${retentionDays} is invalid: use a whole number of days within 7..90.`);
  }
  return { softDelete: opts.softDelete ?? true, retentionDays, purgeProtection: opts.purgeProtection ?? false };
}

/**
 * The `DeletionRecoveryLevel` the service reports for these settings: `Purgeable` without soft delete;
 * `Recoverable` with the full 90 days, `CustomizedRecoverable` with fewer; `+Purgeable` unless purge protection
 * forbids purging (spec `DeletionRecoveryLevel`).
 */
export function recoveryAttributes(s: RecoverySettings): RecoveryAttributes {
  if (!s.softDelete) return { recoveryLevel: 'Purgeable' };
  const base = s.retentionDays < DEFAULT_RETENTION_DAYS ? 'CustomizedRecoverable' : 'Recoverable';
  return { recoveryLevel: s.purgeProtection ? base : `${base}+Purgeable`, recoverableDays: s.retentionDays };
}

/** Epoch seconds at which an object deleted at `deletedDate` is purged by the service. */
export function scheduledPurgeDate(s: RecoverySettings, deletedDate: number): number {
  return deletedDate + s.retentionDays * 86_400;
}
