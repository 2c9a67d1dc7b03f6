/**
 * certrotate's entry point: the commander program. It parses arguments and hands over to one command module, which
 * is imported lazily so `certrotate --help` does not load the Azure SDKs, XState or the sandbox.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import type { CommandContext, GlobalOptions } from './commands/context.js';
import type { DiscoverCommandOptions } from './commands/discover.js';
import type { FleetOptions } from './commands/rotate-fleet.js';
import { registerSandboxCommand } from './commands/sandbox.js';
import { explainUnknownOptions } from './commands/unknown-option.js';
import { withConfigOption } from './next-step.js';

/** The log level when `--log-level` is not given. */
const DEFAULT_LOG_LEVEL = 'info';

/** Exit codes of DESIGN §5. */
export const ExitCode = { ok: 0, error: 1, changesPending: 2, parked: 3, locked: 4 } as const;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

type Action = (ctx: CommandContext) => Promise<number>;

/** Builds the commander program. Exported for tests. */
/** A whole number ≥ 1 (`--concurrency`). */
function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a whole number ≥ 1 (got '${value}')`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('certrotate')
    .description(
      'Rotates the certificate behind a Dataverse server-to-server connection\n' +
        '(Entra ID app registration) safely, resumably and auditably:\n' +
        'observe, generate, attach, install, verify, retire.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--config <file>', 'configuration file\n(default ./certrotate.yaml, or CERTROTATE_CONFIG)')
    .option('--json', 'print one JSON document on stdout;\nlogs go to stderr')
    // The default is applied in run() and written on a line of its own: commander appends it to the level list,
    // which then no longer fits the column and wraps at whatever width the terminal has.
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent\n(default: "info")')
    .option('--log-file <file>', 'also write logs to this file')
    .option('--yes', 'confirm every mutating step\n(required when not interactive)')
    .option('--no-color', 'no colour in output')
    .showHelpAfterError('(run certrotate --help for usage)')
    .exitOverride();

  /** Runs a command module's action with the shared context and records its exit code. */
  const run = async (action: Action, yes?: boolean): Promise<void> => {
    const { CommandContext } = await import('./commands/context.js');
    // `--yes` is accepted before or after the command name.
    const given = program.opts<Partial<GlobalOptions>>();
    const options = { ...given, logLevel: given.logLevel ?? DEFAULT_LOG_LEVEL } as GlobalOptions;
    const ctx = new CommandContext(yes ? { ...options, yes: true } : options);
    process.exitCode = await action(ctx);
  };

  program
    .command('scan')
    .description('every target: credential kind, thumbprint, expiry,\ndays left and status (reads only)')
    .option('--detailed-exitcode', 'exit 2 when a target is due, expired or has orphaned\nkeys')
    .option(
      '--environment <id>',
      'also list every Power Pages site of this Power Platform\nenvironment, configured or not',
    )
    .option('--html <file>', 'also write a self-contained HTML page\nwith an expiry timeline of all targets')
    .option(
      '--concurrency <n>',
      'targets read at once (default 32, sized from\nthe Graph and Key Vault budgets)',
      positiveInt,
    )
    .option(
      '--notify',
      'send expiring (90/60/30/15/7/3/1 days), expired and\nstillParked to the notify channels, once each',
    )
    .action(
      (opts: {
        detailedExitcode?: boolean;
        environment?: string;
        html?: string;
        concurrency?: number;
        notify?: boolean;
      }) => run(async (ctx) => (await import('./commands/scan.js')).scanCommand(ctx, opts)),
    );

  program
    .command('identity')
    .description(
      'which Dataverse identity each S2S connection\nuses (application user or SYSTEM), its roles,\nand what still depends on SYSTEM (reads only)',
    )
    .argument('[name]', 'one configured target (default: every\npower-pages and keyvault target)')
    .option('--environment <id>', "only this Power Platform environment's\npower-pages targets")
    .option('--html <file>', 'also write the audit as a self-contained\nHTML page with the findings table')
    .option('--detailed-exitcode', 'exit 2 when findings exist')
    .option('--notify', 'send identityFindings for each target with\nfindings to the notify channels')
    .action(
      (
        target: string | undefined,
        opts: { environment?: string; html?: string; detailedExitcode?: boolean; notify?: boolean },
      ) => run(async (ctx) => (await import('./commands/identity.js')).identityCommand(ctx, target, opts)),
    );

  const collect = (value: string, previous: string[] = []) => [...previous, value];
  program
    .command('discover')
    .description(
      'every app registration with certificates or\nsecrets: its kind (powerPages, keyVault,\nfederated, unmanaged), expiry, owners\n(reads only)',
    )
    .option('--vault <url>', 'a Key Vault whose certificates mark apps\nas Key Vault-backed (repeatable)', collect)
    .option('--environment <id>', "only this Power Platform environment's\nsites, and its Dataverse application users")
    .option('--csv', 'one CSV line per credential on stdout')
    .option('--html <file>', 'also write an HTML page with an expiry timeline')
    .option('--detailed-exitcode', 'exit 2 when a credential is due or expired')
    .option('--notify', 'send expiring/expired for the certificates\nof apps not configured, to the notify channels')
    .option('--concurrency <n>', 'per-item reads at once (default 32, sized\nfrom the service budgets)', positiveInt)
    .action((opts: DiscoverCommandOptions) =>
      run(async (ctx) => (await import('./commands/discover.js')).discoverCommand(ctx, opts)),
    );

  program
    .command('init')
    .description('discover the tenant and write a commented\ncertrotate.yaml for its Key Vault and\nPower Pages apps')
    .option('--out <file>', 'the file to write', 'certrotate.yaml')
    .option('--force', 'replace the file if it exists')
    .option('--vault <url>', 'a Key Vault to match certificates in\n(repeatable)', collect)
    .option('--environment <id>', "only this Power Platform environment's sites")
    .option(
      '--dataverse-url <url>',
      'verify.dataverseUrl of keyvault targets\n(default: the Dataverse of the sites found)',
    )
    .action((opts: { out: string; force?: boolean; vault?: string[]; environment?: string; dataverseUrl?: string }) =>
      run(async (ctx) => (await import('./commands/init.js')).initCommand(ctx, opts)),
    );

  program
    .command('doctor')
    .description(
      "per target, whether certrotate's identity has\nthe rights each step needs, and what to grant\n(reads only)",
    )
    .action(() => run(async (ctx) => (await import('./commands/doctor.js')).doctorCommand(ctx)));

  program
    .command('plan')
    .description('dry run: the steps a rotation would take,\nfrom real reads, with no write to any service')
    .argument('<target>', 'target name from the configuration')
    .option('--out <file>', 'save the plan for `rotate --plan FILE`')
    .option('--detailed-exitcode', 'exit 2 when the plan has changes')
    .option('--force', 'plan a rotation even when the key is not due')
    .action((target: string, opts: { out?: string; detailedExitcode?: boolean; force?: boolean }) =>
      run(async (ctx) => (await import('./commands/plan.js')).planCommand(ctx, target, opts)),
    );

  program
    .command('rotate')
    .description('rotate a target (resumable):\ngenerate, attach, install, verify, retire')
    .argument('[target]', 'target name from the configuration\n(or a fleet: --due, --targets, --match)')
    .option('--plan <file>', 'apply a plan saved by `plan --out`;\nrefused when what it observed has changed')
    .option('--force', 'rotate even when the key is not due')
    .option('--yes', 'confirm every mutating step (required when not interactive)')
    .option('--due', 'fleet: rotate every target whose key is due')
    .option('--targets <names>', 'fleet: rotate these targets (comma-separated)')
    .option('--match <glob>', 'fleet: rotate the targets whose name matches')
    .option('--concurrency <n>', 'fleet: at most n runs at once (default: from the budgets)')
    .option('--dry-run', "fleet: print every selected target's plan;\nchange nothing")
    .action((target: string | undefined, opts: FleetOptions & { yes?: boolean }) =>
      run(async (ctx) => (await import('./commands/rotate.js')).rotateCommand(ctx, target, opts), opts.yes),
    );

  program
    .command('resume')
    .description('continue a parked or interrupted run\nfrom its snapshot')
    .argument('<runId>', 'the run id printed by rotate or runs')
    .option('--yes', 'confirm every mutating step (required when not interactive)')
    .action((runId: string, opts: { yes?: boolean }) =>
      run(async (ctx) => (await import('./commands/resume.js')).resumeCommand(ctx, runId, 'resume'), opts.yes),
    );

  program
    .command('rollback')
    .description('from a parked run: put the old key back in service\nand withdraw the new one')
    .argument('<runId>', 'the run id printed by rotate or runs')
    .option('--yes', 'confirm every mutating step (required when not interactive)')
    .action((runId: string, opts: { yes?: boolean }) =>
      run(async (ctx) => (await import('./commands/resume.js')).resumeCommand(ctx, runId, 'rollback'), opts.yes),
    );

  program
    .command('prune')
    .description('retire orphaned keys: valid keys on the app\nthat the server does not use and no run retires')
    .argument('<target>', 'target name from the configuration')
    .option('--yes', 'confirm the removal (required when not interactive)')
    .action((target: string, opts: { yes?: boolean }) =>
      run(async (ctx) => (await import('./commands/prune.js')).pruneCommand(ctx, target), opts.yes),
    );

  program
    .command('notify')
    .description('notification channels: Teams, Slack, webhooks')
    .command('test')
    .description('send a sample notification to each channel')
    .option('--channel <name>', 'only this channel')
    .action((opts: { channel?: string }) =>
      run(async (ctx) => (await import('./commands/notify.js')).notifyTestCommand(ctx, opts)),
    );

  program
    .command('abandon')
    .description('close a run that changed nothing\n(e.g. stopped at its first question)')
    .argument('<runId>', 'the run id printed by rotate or runs')
    .action((runId: string) => run(async (ctx) => (await import('./commands/abandon.js')).abandonCommand(ctx, runId)));

  program
    .command('runs')
    .description('list runs, newest first')
    .option('--target <name>', "only this target's runs")
    .option('--open', 'only runs that block a new rotation\n(unfinished, parked, corrupt)')
    .action((opts: { target?: string; open?: boolean }) =>
      run(async (ctx) => (await import('./commands/runs.js')).runsCommand(ctx, opts)),
    );

  program
    .command('show')
    .description("one run's timeline from its journal")
    .argument('<runId>', 'the run id printed by rotate or runs')
    .action((runId: string) => run(async (ctx) => (await import('./commands/show.js')).showCommand(ctx, runId)));

  program
    .command('unlock')
    .description("remove a target's lock, whoever holds it")
    .argument('<target>', 'target name from the configuration')
    .option('--force', 'confirm removing the lock\n(twice: break an unexpired lease too)', (_v, n: number) => n + 1, 0)
    .option('--break-lease', "break the holder's lease before it expires\n(azure-blob state)")
    .action((target: string, opts: { force: number; breakLease?: boolean }) =>
      run(async (ctx) =>
        (await import('./commands/unlock.js')).unlockCommand(ctx, target, opts.force > 0, {
          breakLease: Boolean(opts.breakLease) || opts.force > 1,
        }),
      ),
    );

  program
    .command('state')
    .description('the run state store')
    .command('migrate')
    .description('copy the local runs into shared storage\n(refused while a run is active)')
    .requiredOption('--to <kind>', 'the state kind to copy to: azure-blob')
    .option('--account-url <url>', 'the storage account,\nhttps://ACCOUNT.blob.core.windows.net')
    .option('--container <name>', 'the container (it must exist)')
    .option('--prefix <prefix>', 'names in the container start with this')
    .action((opts: { to: string; accountUrl?: string; container?: string; prefix?: string }) =>
      run(async (ctx) => (await import('./commands/state-migrate.js')).stateMigrateCommand(ctx, opts)),
    );

  program
    .command('diagram')
    .description('the rotation machine as a diagram,\nderived from its definition')
    .option('--format <format>', 'mermaid', 'mermaid')
    .action((opts: { format: string }) =>
      run(async (ctx) => (await import('./commands/diagram.js')).diagramCommand(ctx, opts.format)),
    );

  registerSandboxCommand(program);

  program
    .command('demo')
    .description('start a sandbox and scan it,\nrotate its due keyvault target without prompts,\nsummarise, stop')
    .option('--storage', 'keep the run state in blob storage (Azurite)\nand show a second agent sharing it')
    .action((opts: { storage?: boolean }) =>
      run(async (ctx) => (await import('./commands/demo.js')).demoCommand(ctx, opts)),
    );

  explainUnknownOptions(program);
  return program;
}

const EXPECTED_ERRORS = new Set([
  'ConfigError',
  'UsageError',
  'RunStoreError',
  'LockLostError',
  'RunRefusedError',
  'TargetBusyError',
]);

/** Runs the CLI with `argv` (as in process.argv) and sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help, the version or the usage error; map its code onto ours.
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.error;
      return;
    }
    const debug = ['debug', 'trace'].includes(program.opts<{ logLevel?: string }>().logLevel ?? '');
    const name = err instanceof Error ? err.name : '';
    // A command the error offers (`certrotate resume R`) carries the --config this invocation used.
    const message = withConfigOption(
      err instanceof Error ? err.message : String(err),
      program.opts<{ config?: string }>().config,
    );
    process.stderr.write(`certrotate: ${EXPECTED_ERRORS.has(name) ? '' : 'error: '}${message}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = name === 'TargetBusyError' ? ExitCode.locked : ExitCode.error;
  }
}
