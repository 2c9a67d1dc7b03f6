/**
 * The identity verdict beside a power-pages target's key (issue 13): `plan` prints it under the plan and carries it
 * in its JSON, `rotate` prints it in its preflight. Informational only: it never blocks or changes a rotation, stays
 * out of the plan's fingerprint and every exit code, and a failed read is said ("not checked"), never raised.
 */
import type { Config, TargetConfig } from '../config/schema.js';
import { toPortError } from '../adapters/ports.js';
import type { DataverseIdentityReader } from '../adapters/azure/dataverse-identity.js';
import { nextCommand } from '../next-step.js';
import type { IdentityReport, IdentityVerdict } from '../identity/audit.js';
import type { CommandContext } from './context.js';
import type { IdentityTargetRow } from './identity.js';
import { azureAdaptersFor } from './target-ports.js';

/** The `identity` field of `plan --json` for a power-pages target (stable, additive to the plan document). */
export interface IdentitySummary {
  /** Null when the identity was not checked (`error` says why). */
  verdict: IdentityVerdict | null;
  kind: IdentityReport['kind'] | null;
  /** The application user's name (`# Portals-<site>`), SYSTEM, or null. */
  name: string | null;
  /** How many findings `certrotate identity TARGET` lists. */
  findings: number;
  /** Why the identity was not checked; absent when it was. */
  error?: string;
}

const IDENTITY_KIND: Record<string, string> = {
  system: 'SYSTEM (legacy)',
  applicationUser: 'application user',
  missing: 'no application user',
};

/** Why the audit of `row` tells nothing about the identity, or undefined when it does. */
function notChecked(row: IdentityTargetRow): string | undefined {
  if (row.error !== undefined || !row.identity) return row.error ?? 'nothing read';
  // Without systemusers the audit cannot tell which identity the site uses: that is not a verdict.
  const usersUnread = row.findings.find((f) => f.kind === 'unreadableTable' && f.table === 'systemusers');
  if (usersUnread && row.identity.kind === 'missing') return usersUnread.excerpt;
  return undefined;
}

/**
 * How long `rotate`'s preflight and `plan` wait for the site's Dataverse identity: the verdict is informational, so
 * a slow Dataverse must not hold up the start of a rotation; past this the line says "not checked" and the run goes on.
 */
export const IDENTITY_READ_TIMEOUT_MS = 10_000;

/** Options of {@link targetIdentity}. */
export interface TargetIdentityOptions {
  /** The bound on the read, in ms (default {@link IDENTITY_READ_TIMEOUT_MS}); null waits as long as Dataverse takes. */
  timeoutMs?: number | null;
}

const notCheckedRow = (target: TargetConfig & { kind: 'power-pages' }, error: string): IdentityTargetRow => ({
  name: target.name,
  environmentId: target.environmentId,
  identity: null,
  verdict: null,
  findings: [],
  error,
});

/** `reader` with `signal` on every read, so the reads still running when the bound passes are cancelled. */
function withSignal(reader: DataverseIdentityReader, signal: AbortSignal): DataverseIdentityReader {
  const { applicationUsers } = reader;
  return {
    read: (req) => reader.read({ ...req, signal }),
    portalUsers: (url, o) => reader.portalUsers(url, { ...o, signal }),
    website: (environmentId, websiteId, o) => reader.website(environmentId, websiteId, { ...o, signal }),
    ...(applicationUsers
      ? { applicationUsers: (url, appIds, o) => applicationUsers.call(reader, url, appIds, { ...o, signal }) }
      : {}),
  };
}

/**
 * The audit of one power-pages target through `reader`, bounded by `timeoutMs` (null: unbounded). Never throws: a
 * failure, or no answer in time ("Dataverse did not answer within 10 s", the reads then aborted), is the row's `error`.
 */
export async function boundedIdentity(
  reader: () => Promise<DataverseIdentityReader>,
  target: TargetConfig & { kind: 'power-pages' },
  timeoutMs: number | null = IDENTITY_READ_TIMEOUT_MS,
): Promise<IdentityTargetRow> {
  const controller = new AbortController();
  const audit = (async () => {
    try {
      const { auditOne, subjectOf } = await import('./identity.js');
      const identity = withSignal(await reader(), controller.signal);
      return await auditOne({ identity }, subjectOf({ identity }, target), () => undefined);
    } catch (err) {
      // The adapters themselves could not be made (e.g. no sign-in method): still only "not checked".
      return notCheckedRow(target, toPortError(err).message);
    }
  })();
  if (timeoutMs === null) return audit;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<IdentityTargetRow>((resolve) => {
    timer = setTimeout(() => {
      const why = `Dataverse did not answer within ${timeoutMs / 1000} s`;
      controller.abort(new Error(why));
      resolve(notCheckedRow(target, why));
    }, timeoutMs);
  });
  try {
    return await Promise.race([audit, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The audit of one power-pages target, read with certrotate's own identity, bounded as {@link boundedIdentity}.
 * Never throws: a failure is the row's `error`.
 */
export async function targetIdentity(
  ctx: CommandContext,
  config: Config,
  target: TargetConfig & { kind: 'power-pages' },
  o: TargetIdentityOptions = {},
): Promise<IdentityTargetRow> {
  return boundedIdentity(
    async () => (await azureAdaptersFor(ctx, config)).identity,
    target,
    o.timeoutMs === undefined ? IDENTITY_READ_TIMEOUT_MS : o.timeoutMs,
  );
}

/** The `identity` field of `plan --json`, judged as {@link identityLine} judges it. */
export function identitySummary(row: IdentityTargetRow): IdentitySummary {
  const why = notChecked(row);
  if (why !== undefined) return { verdict: null, kind: null, name: null, findings: row.findings.length, error: why };
  return {
    verdict: row.verdict,
    kind: row.identity!.kind,
    name: row.identity!.name,
    findings: row.findings.length,
  };
}

/** The one line under a power-pages plan and in rotate's preflight. */
export function identityLine(target: string, row: IdentityTargetRow, configPath?: string): string {
  const why = notChecked(row);
  if (why !== undefined || !row.identity) return `identity: not checked (${why ?? 'nothing read'})`;
  const who = IDENTITY_KIND[row.identity.kind] ?? row.identity.kind;
  const name = row.identity.kind === 'applicationUser' && row.identity.name ? ` '${row.identity.name}'` : '';
  const n = row.findings.length;
  const unreadable = row.findings.find((f) => f.kind === 'unreadableTable');
  if (n === 0 && row.verdict === 'ok') return `Identity: ${who}${name} — ok`;
  const counted = n === 0 ? row.verdict : `${n} finding${n === 1 ? '' : 's'}`;
  const partly = unreadable ? ` (partly read: ${unreadable.excerpt})` : '';
  return `Identity: ${who}${name} — ${counted}${partly}; run \`${nextCommand(['identity', target], configPath)}\``;
}

/**
 * The identity of every configured power-pages target, for the expiry report's identity section: a row that tells
 * nothing about the identity (a failed read, systemusers unreadable) is an error row carrying the reason, so the page
 * says "not checked" where the line does. Reads only; never throws.
 */
export async function configuredIdentities(ctx: CommandContext, config: Config): Promise<IdentityTargetRow[]> {
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(4);
  const sites = config.targets.filter((t): t is TargetConfig & { kind: 'power-pages' } => t.kind === 'power-pages');
  // The report's section waits as it always did: it delays no rotation.
  const rows = await Promise.all(sites.map((t) => limit(() => targetIdentity(ctx, config, t, { timeoutMs: null }))));
  return rows.map((row) => {
    const why = notChecked(row);
    return why === undefined ? row : { ...row, identity: null, verdict: null, error: why };
  });
}
