/**
 * `certrotate discover`: every credential-bearing app registration of the tenant, classified (src/fleet/), as a table
 * grouped by kind, `--json`, `--csv` or an `--html` page with the scan report's timeline. Reads only (I6).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { APP_KINDS, type DiscoveredApp } from '../fleet/classify.js';
import { discoverTenant, type DiscoveryReport } from '../fleet/discovery.js';
import type { TenantReader } from '../fleet/tenant-reader.js';
import type { NoticeRow } from '../notify/scan-notices.js';
import { UsageError, type CommandContext } from './context.js';
import { table } from './runs.js';

/** Options of `discover`. */
export interface DiscoverCommandOptions {
  vault?: string[];
  environment?: string;
  csv?: boolean;
  html?: string;
  detailedExitcode?: boolean;
  /** Send `expiring`/`expired` for the discovered certificate credentials to the notify channels. */
  notify?: boolean;
  /** Per-item reads in flight at once (websites per environment, versions per certificate, user batches). */
  concurrency?: number;
}

/**
 * The tenant reader over Azure for `config` (its CA trusted, its identity signed in): every request under the
 * process's shared limiter, so a 429 with Retry-After from Graph, the Power Platform API, Dataverse or Key Vault is
 * waited out rather than failing discover, and the operator's tokens cached per scope for the whole read.
 */
export async function tenantReaderFor(
  ctx: CommandContext,
  config: Config,
  opts: { concurrency?: number } = {},
): Promise<TenantReader> {
  const { createOperatorCredential } = await import('../adapters/azure/credentials.js');
  const { trustExtraCa } = await import('../adapters/azure/trust.js');
  const { createTenantReader } = await import('../adapters/azure/tenant-reader.js');
  const { defaultLimiter } = await import('../adapters/azure/limiter.js');
  const { cachedCredential } = await import('../adapters/azure/limiter-policies.js');
  const caPem = config.cloud.caFile ? readFileSync(config.cloud.caFile, 'utf8') : undefined;
  if (caPem) trustExtraCa(caPem);
  const limiter = defaultLimiter;
  const clientId = 'clientId' in config.auth && config.auth.clientId ? config.auth.clientId : undefined;
  return createTenantReader({
    graphUrl: config.cloud.graphUrl,
    powerPlatformUrl: config.cloud.powerPlatformUrl,
    credential: cachedCredential(
      createOperatorCredential(config, { ...(caPem ? { caPem } : {}), env: ctx.env, limiter }),
    ),
    ...(caPem ? { caPem } : {}),
    limiter,
    // The same caller the Graph client uses (adapters/azure/index.ts): one Graph budget per operator and tenant.
    caller: { appId: clientId ?? 'operator', tenantId: config.tenantId },
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
}

/** Checks each `--vault` is an https URL (before any request). */
export function vaultUrls(values: string[] = []): string[] {
  return values.map((v) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      throw new UsageError(`option --vault: got "${v}"; expected an https URL of a Key Vault`);
    }
    if (url.protocol !== 'https:') throw new UsageError(`option --vault: got "${v}"; expected an https URL`);
    return v.replace(/\/+$/, '');
  });
}

/** Runs discovery with the config's identity and `defaults.rotateBefore`. */
export async function runDiscovery(
  ctx: CommandContext,
  opts: Pick<DiscoverCommandOptions, 'vault' | 'environment' | 'concurrency'>,
): Promise<{ report: DiscoveryReport; config: Config; configPath: string }> {
  const vaults = vaultUrls(opts.vault);
  const { config, path } = await ctx.config();
  const reader = await tenantReaderFor(ctx, config, {
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
  const report = await discoverTenant(reader, {
    now: Date.now(),
    rotateBeforeMs: config.defaults.rotateBefore,
    vaults,
    ...(opts.environment ? { environment: opts.environment } : {}),
  });
  return { report, config, configPath: path };
}

const CSV_HEADER = [
  'kind',
  'app',
  'appId',
  'credential',
  'on',
  'keyId',
  'thumbprint',
  'expiresOn',
  'daysLeft',
  'status',
  'owners',
  'vault',
  'site',
];

/** Columns added when the application users were read (`--environment`): the user, its disabled flag, its unit. */
const CSV_USER_HEADER = ['applicationUser', 'userDisabled', 'businessUnit'];

/** Whether this report has the application users (read with `--environment`, not refused). */
const hasApplicationUsers = (report: DiscoveryReport) => report.apps.some((a) => a.applicationUser !== undefined);

/** The application user in one cell: name, `disabled`, business unit; `none` when the app has none. */
export function applicationUserText(app: DiscoveredApp): string {
  if (app.applicationUser === undefined) return '-';
  if (app.applicationUser === null) return 'none';
  const d = app.applicationUserDetail;
  if (!d) return app.applicationUser;
  return `${d.name || app.applicationUser}${d.disabled ? ' (disabled)' : ''}${d.businessUnit ? ` [${d.businessUnit}]` : ''}`;
}

const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * One CSV line per credential (and one per app with none, e.g. federated-only), header first. With the application
 * users read, three more columns: the user's name (empty when the app has none), `true`/`false`, its business unit.
 */
export function discoveryCsv(report: DiscoveryReport): string {
  const users = hasApplicationUsers(report);
  const lines = [[...CSV_HEADER, ...(users ? CSV_USER_HEADER : [])].join(',')];
  for (const app of report.apps) {
    const common = (c?: DiscoveredApp['credentials'][number]) => [
      app.kind,
      app.displayName,
      app.appId,
      c?.kind ?? 'federated',
      c?.on ?? 'application',
      c?.keyId ?? '',
      c?.thumbprint ?? '',
      c?.expiresOn ?? '',
      c ? String(c.daysLeft) : '',
      c?.status ?? 'ok',
      app.owners.join('; '),
      c?.vault ? `${c.vault.url}/certificates/${c.vault.certificate}/${c.vault.version}` : '',
      app.site ? `${app.site.environmentId}/${app.site.websiteId}` : '',
      ...(users
        ? [
            app.applicationUserDetail?.name || (app.applicationUser ?? ''),
            app.applicationUser ? String(app.applicationUserDetail?.disabled ?? '') : '',
            app.applicationUserDetail?.businessUnit ?? '',
          ]
        : []),
    ];
    const rows = app.credentials.length ? app.credentials.map(common) : [common()];
    for (const r of rows) lines.push(r.map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** The human table, one section per kind. */
export function discoveryTable(report: DiscoveryReport): string {
  const out: string[] = [];
  const users = hasApplicationUsers(report);
  for (const kind of APP_KINDS) {
    const apps = report.apps.filter((a) => a.kind === kind);
    if (apps.length === 0) continue;
    const rows = [
      [
        'APP',
        'APP ID',
        'CREDENTIAL',
        'THUMBPRINT',
        'EXPIRES',
        'DAYS',
        'STATUS',
        'OWNERS',
        ...(users ? ['APP USER'] : []),
      ],
    ];
    for (const app of apps) {
      const owners = app.owners.join(', ') || '-';
      const user = users ? [applicationUserText(app)] : [];
      if (app.credentials.length === 0) {
        rows.push([app.displayName, app.appId, 'federated', '-', '-', '-', 'ok', owners, ...user]);
      }
      for (const c of app.credentials) {
        rows.push([
          app.displayName,
          app.appId,
          `${c.kind}${c.on === 'servicePrincipal' ? ' (sp)' : ''}`,
          c.thumbprint ?? '-',
          c.expiresOn.slice(0, 10),
          String(c.daysLeft),
          c.status,
          owners,
          ...user,
        ]);
      }
    }
    out.push(`${kind} (${apps.length})\n${table(rows)}`);
  }
  const c = report.counts;
  out.push(
    `${c.apps} app(s): ${APP_KINDS.map((k) => `${c.byKind[k]} ${k}`).join(', ')}; ` +
      `${c.certificates} certificate(s), ${c.secrets} secret(s); ${c.due} due, ${c.expired} expired`,
  );
  out.push(...report.notes.map((n) => `note: ${n}`));
  return out.join('\n\n');
}

/**
 * The rows `discover --notify` tells about: each certificate credential of an app that is not a configured target
 * (`scan --notify` tells those under the target's name). An app with several certificates gets one row per
 * certificate, named by the app and the thumbprint's head, so each key's thresholds are remembered apart.
 */
export function discoveryNoticeRows(report: DiscoveryReport, configuredAppIds: readonly string[]): NoticeRow[] {
  const configured = new Set(configuredAppIds.map((id) => id.toLowerCase()));
  return report.apps
    .filter((app) => !configured.has(app.appId.toLowerCase()))
    .flatMap((app) => {
      const certs = app.credentials.filter((c) => c.kind === 'certificate' && c.thumbprint !== null);
      return certs.map((c) => ({
        name: certs.length > 1 ? `${app.displayName} (${c.thumbprint!.slice(0, 8)})` : app.displayName,
        thumbprint: c.thumbprint,
        expiresOn: c.expiresOn,
        daysLeft: c.daysLeft,
      }));
    });
}

/** `discover`: exit 0, or 2 with `--detailed-exitcode` when a credential is due or expired; 1 on error. */
export async function discoverCommand(ctx: CommandContext, opts: DiscoverCommandOptions): Promise<number> {
  if (opts.csv && ctx.options.json) throw new UsageError('options --csv and --json: choose one output format');
  // `--notify`: the channels are checked before anything is read, as in `scan --notify`.
  let notify: ((rows: readonly NoticeRow[]) => Promise<unknown[]>) | undefined;
  if (opts.notify) {
    const { config } = await ctx.config();
    const { openStateBackend } = await import('../adapters/state/index.js');
    const { scanNotifier } = await import('./scan-notify.js');
    // Not configured yet: the notice names the command that adopts the app. Parked runs are scan's to remind of.
    notify = scanNotifier(
      ctx,
      config,
      openStateBackend(config).store,
      {},
      { stillParked: false, next: () => 'certrotate init' },
    );
  }
  const { report, configPath, config } = await runDiscovery(ctx, opts);
  // Never changes the exit code: every failure is logged and listed in `notifications`.
  const notifications = notify
    ? await notify(
        discoveryNoticeRows(
          report,
          config.targets.map((t) => t.app.appId),
        ),
      )
    : undefined;
  if (opts.html) await writeHtml(opts.html, configPath, report);
  if (opts.csv) process.stdout.write(discoveryCsv(report));
  else
    ctx.print(notifications ? { ...report, notifications } : report, () =>
      report.apps.length ? discoveryTable(report) : 'No app registration has credentials.',
    );
  const pending = report.counts.due + report.counts.expired > 0;
  return opts.detailedExitcode && pending ? 2 : 0;
}

/** `--html FILE`: the scan report's page and timeline, one row per credential, grouped by kind. */
async function writeHtml(file: string, source: string, report: DiscoveryReport): Promise<void> {
  const { writeScanReport } = await import('../report/scan-report.js');
  const users = hasApplicationUsers(report);
  const rows = report.apps.flatMap((app) =>
    app.credentials.map((c) => {
      const details = [
        ...(c.kind === 'secret' ? ['client secret: move to a certificate credential'] : []),
        ...(users ? [`application user: ${applicationUserText(app)}`] : []),
      ];
      return {
        name: app.displayName,
        kind: app.kind,
        credential: c.kind === 'certificate' ? 'certificate' : 'secret',
        thumbprint: c.thumbprint,
        expiresOn: c.expiresOn,
        daysLeft: c.daysLeft,
        status: c.status,
        ...(details.length ? { detail: details.join('; ') } : {}),
      };
    }),
  );
  let written: string;
  try {
    written = await writeScanReport(file, { rows, generatedAt: Date.now(), source });
  } catch (err) {
    throw new UsageError(`option --html: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  process.stderr.write(`Discovery report written to ${written}\n`);
}
