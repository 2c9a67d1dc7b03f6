/**
 * `certrotate identity [TARGET]`: the S2S identity audit (issue 13). For each power-pages target (and each keyvault
 * target, through its `verify.dataverseUrl`): which Dataverse identity the connection uses, its roles and column
 * profiles against the documented set, and what still depends on SYSTEM. Reads only (I6): GETs to the Power
 * Platform API and Dataverse, with certrotate's own identity (an application user of the environment).
 */
import type { Config, TargetConfig } from '../config/schema.js';
import { toPortError } from '../adapters/ports.js';
import { ExitCode } from '../exit-codes.js';
import type { Finding } from '../identity/finding.js';
import { auditTarget, rolesText, type IdentityReport, type IdentityVerdict } from '../identity/audit.js';
import type { AzureAdapters } from '../adapters/azure/index.js';
import { notifyIdentityFindings, type IdentityDelivery } from '../notify/identity-notices.js';
import { systemClock } from '../runs/system-clock.js';
import { UsageError, type CommandContext } from './context.js';
import { checkEnvironmentId } from './scan.js';
import { table } from './runs.js';

/** Options of `certrotate identity`. */
export interface IdentityOptions {
  environment?: string;
  detailedExitcode?: boolean;
  /** Also write the audit as a self-contained HTML page. */
  html?: string;
  /** Send `identityFindings` for each target with findings to the subscribed notify channels. */
  notify?: boolean;
}

/** One target of the identity document (formatVersion 1). */
export interface IdentityTargetRow {
  name: string;
  environmentId: string | null;
  identity: IdentityReport | null;
  verdict: IdentityVerdict | null;
  findings: Finding[];
  /** Why the target could not be audited at all; absent otherwise. */
  error?: string;
  /** One sentence on why the identity is what it is (human output). */
  evidence?: string;
}

/** The `--json` document. */
export interface IdentityDocument {
  formatVersion: 1;
  targets: IdentityTargetRow[];
  /** With `--notify`: every delivery's result. */
  notifications?: IdentityDelivery[];
}

/** The targets the command audits: the named one, those of `--environment`, or every configured one. */
export function selectTargets(
  config: Config,
  name: string | undefined,
  environment: string | undefined,
): TargetConfig[] {
  let targets = config.targets;
  if (name !== undefined) {
    const t = targets.find((x) => x.name === name);
    if (!t) {
      throw new UsageError(
        `argument NAME: got "${name}"; expected a configured target (${targets.map((x) => x.name).join(', ') || 'none configured'})`,
      );
    }
    targets = [t];
  }
  if (environment !== undefined) {
    targets = targets.filter(
      (t) => t.kind === 'power-pages' && t.environmentId.toLowerCase() === environment.toLowerCase(),
    );
  }
  return targets;
}

/** What one row audits: a configured target, or (with `--environment`) a site or application user found there. */
export interface Subject {
  name: string;
  kind: 'power-pages' | 'keyvault';
  environmentId: string | null;
  appId: string;
  /** Where its Dataverse is, and (a site) its record id, which adds the Liquid and SYSTEM's workflows. */
  locate(): Promise<{ dataverseUrl: string; websiteRecordId?: string }>;
}

/** What auditing a configured target reads: a site through its website record, a keyvault target its dataverseUrl. */
export function subjectOf(azure: Pick<AzureAdapters, 'identity'>, target: TargetConfig): Subject {
  if (target.kind === 'power-pages') {
    return {
      name: target.name,
      kind: 'power-pages',
      environmentId: target.environmentId,
      appId: target.app.appId,
      locate: () => azure.identity.website(target.environmentId, target.websiteId),
    };
  }
  return {
    name: target.name,
    kind: 'keyvault',
    environmentId: null,
    appId: target.app.appId,
    locate: () => Promise.resolve({ dataverseUrl: target.verify.dataverseUrl }),
  };
}

const errorRow = (name: string, environmentId: string | null, error: string): IdentityTargetRow => ({
  name,
  environmentId,
  identity: null,
  verdict: null,
  findings: [],
  error,
});

/** Audits one subject; a failure to read becomes the row's `error`, never a throw. */
export async function auditOne(
  azure: Pick<AzureAdapters, 'identity'>,
  subject: Subject,
  located: (dataverseUrl: string) => void,
): Promise<IdentityTargetRow> {
  const { name, environmentId } = subject;
  try {
    const { dataverseUrl, websiteRecordId } = await subject.locate();
    located(dataverseUrl);
    const snapshot = await azure.identity.read({
      dataverseUrl,
      appId: subject.appId,
      ...(websiteRecordId ? { websiteRecordId } : {}),
    });
    return { name, environmentId, ...auditTarget({ kind: subject.kind, ...snapshot }, subject.appId) };
  } catch (err) {
    return errorRow(name, environmentId, toPortError(err).message);
  }
}

/** 1 when a target could not be audited, a table could not be read or an identity is broken; 2 (detailed) on findings. */
export function identityExitCode(rows: IdentityTargetRow[], detailedExitcode: boolean): number {
  const failed = rows.some(
    (r) => r.error !== undefined || r.verdict === 'broken' || r.findings.some((f) => f.kind === 'unreadableTable'),
  );
  if (failed) return ExitCode.error;
  return detailedExitcode && rows.some((r) => r.findings.length > 0) ? ExitCode.changesPending : ExitCode.ok;
}

/** The human text: one line per target, then its findings with their fixes. */
export function identityText(rows: IdentityTargetRow[]): string {
  if (rows.length === 0) return 'No power-pages or keyvault targets to audit.';
  const head = [['TARGET', 'IDENTITY', 'NAME', 'ROLES', 'VERDICT', 'FINDINGS']];
  for (const r of rows) {
    head.push([
      r.name,
      r.identity?.kind ?? '-',
      r.identity?.name ?? '-',
      rolesText(r.identity) || '-',
      r.verdict ?? 'error',
      String(r.findings.length),
    ]);
  }
  const details: string[] = [];
  for (const r of rows) {
    if (r.error) details.push(`${r.name}: cannot audit: ${r.error}`);
    if (r.evidence) details.push(`${r.name}: ${r.evidence}`);
    for (const f of r.findings) {
      const record = f.recordId ? ` ${f.name ?? ''} (${f.recordId})` : '';
      details.push(`  ${f.severity.padEnd(6)} ${f.kind} in ${f.table}${record}: ${f.excerpt}`);
      if (f.kind !== 'unreadableTable') details.push(`         fix: ${f.fix}`);
    }
  }
  return `${table(head)}\n\n${details.join('\n')}`;
}

/** `certrotate identity`. */
export async function identityCommand(
  ctx: CommandContext,
  name: string | undefined,
  opts: IdentityOptions,
): Promise<number> {
  if (opts.environment !== undefined) checkEnvironmentId(opts.environment);
  const { config, path: configPath } = await ctx.config();
  // `--notify` is checked before anything is read, as in `scan --notify`.
  if (opts.notify && config.notify.length === 0) {
    throw new UsageError('option --notify: no notify channels configured; expected a `notify:` section in the config');
  }
  const targets = selectTargets(config, name, opts.environment);
  const { createAzureAdapters } = await import('../adapters/azure/index.js');
  const azure = createAzureAdapters(config, { logger: ctx.logger, clock: systemClock, env: ctx.env });
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(4);
  const subjects = targets.map((t) => subjectOf(azure, t));
  const rows: IdentityTargetRow[] = [];
  const env = opts.environment;
  const wholeEnvironment = env !== undefined && name === undefined;
  // `--environment` without a NAME: the environment's sites too, configured or not (as `scan --environment`).
  if (wholeEnvironment) {
    try {
      for (const site of await azure.sites.listSites(env)) {
        if (targets.some((t) => t.kind === 'power-pages' && t.websiteId === site.websiteId)) continue;
        subjects.push({
          name: site.name || site.websiteId,
          kind: 'power-pages',
          environmentId: env,
          appId: site.appId,
          locate: () => azure.identity.website(env, site.websiteId),
        });
      }
    } catch (err) {
      rows.push(errorRow(`environment ${env}`, env, `cannot list its sites: ${toPortError(err).message}`));
    }
  }
  let dataverseUrl: string | undefined;
  const located = (url: string) => void (dataverseUrl ??= url);
  rows.push(...(await Promise.all(subjects.map((s) => limit(() => auditOne(azure, s, located))))));
  // And the Power Pages application users of sites neither configured nor listed: their roles (no Liquid to read).
  if (wholeEnvironment && dataverseUrl) {
    const url = dataverseUrl;
    const known = new Set(subjects.map((s) => s.appId.toLowerCase()));
    try {
      const extra = (await azure.identity.portalUsers(url)).filter((u) => !known.has(u.appId.toLowerCase()));
      const located = () => undefined;
      const audits = extra.map((u) =>
        limit(() =>
          auditOne(
            azure,
            {
              name: u.siteName,
              kind: 'power-pages',
              environmentId: env,
              appId: u.appId,
              locate: () => Promise.resolve({ dataverseUrl: url }),
            },
            located,
          ),
        ),
      );
      rows.push(...(await Promise.all(audits)));
    } catch (err) {
      const message = `cannot list its Power Pages application users: ${toPortError(err).message}`;
      rows.push(errorRow(`environment ${env}`, env, message));
    }
  }
  for (const r of rows) {
    if (r.error) ctx.logger.error({ target: r.name }, `cannot audit target ${r.name}: ${r.error}`);
  }
  // Deliveries are bounded (src/notify/deliver.ts) and never change the exit code: a failure is logged and listed.
  const notifications = opts.notify
    ? await notifyIdentityFindings(config.notify, rows, {}, ctx.options.config)
    : undefined;
  for (const n of notifications ?? []) {
    if (n.status === 'failed') ctx.logger.warn({ ...n }, 'notification not delivered');
  }
  const document: IdentityDocument = {
    formatVersion: 1,
    // `evidence` is for the human text; the JSON keeps the schema.
    targets: rows.map(({ evidence: _evidence, ...r }) => r),
    ...(notifications ? { notifications } : {}),
  };
  if (opts.html) {
    // Written before stdout, as scan's report: a failed write prints no table.
    const { writeIdentityReport } = await import('../report/identity-report.js');
    let written: string;
    try {
      written = await writeIdentityReport(opts.html, {
        targets: document.targets,
        generatedAt: Date.now(),
        source: configPath,
      });
    } catch (err) {
      throw new UsageError(
        `option --html: cannot write ${opts.html}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    process.stderr.write(`Identity report written to ${written}\n`);
  }
  ctx.print(document, () => identityText(rows));
  return identityExitCode(rows, opts.detailedExitcode === true);
}
