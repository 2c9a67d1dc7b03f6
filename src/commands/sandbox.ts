/**
 * `certrotate sandbox start`: the local Azure sandbox (DESIGN §6). The sandbox module is imported inside the action
 * so `certrotate --help` never loads fastify, the PKI or the Azure SDKs.
 */
import { InvalidArgumentError, type Command } from 'commander';

function nonNegative(label: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${label} must be a number ≥ 0 (got '${value}')`);
    return n;
  };
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 2000)
    throw new InvalidArgumentError(`--targets must be a whole number from 0 to 2000 (got '${value}')`);
  return n;
}

/** Registers `sandbox start` on the program. */
export function registerSandboxCommand(program: Command): void {
  const sandbox = program.command('sandbox').description('the local Azure sandbox (no tenant needed)');
  sandbox
    .command('start')
    .description(
      'start the sandbox: writes DIR/ca.pem, DIR/certrotate.yaml and DIR/notify.env, prints {"ready":true,"admin":…,"config":…}, runs until SIGINT/SIGTERM',
    )
    .option('--dir <dir>', 'where ca.pem, certrotate.yaml and notify.env are written', '.certrotate-sandbox')
    .option('--targets <n>', 'extra keyvault targets bench-0001… (due)', count, 0)
    .option('--tenant-apps <n>', 'extra app registrations fleet-0001… for discover', count, 0)
    .option('--latency <ms>', 'latency added to every service request', nonNegative('--latency'), 0)
    .option(
      '--propagation-delay <s>',
      'seconds before a new key credential works for tokens',
      nonNegative('--propagation-delay'),
      2,
    )
    .option(
      '--kv-create-delay <s>',
      'seconds a Key Vault certificate create stays inProgress',
      nonNegative('--kv-create-delay'),
      1,
    )
    .option(
      '--site-restart <s>',
      'seconds a Power Pages site restarts after Update key',
      nonNegative('--site-restart'),
      3,
    )
    .option('--pp-removes-old-key', 'Update key also removes the old key from the site app')
    .option('--graph-read-lag <s>', 'seconds by which Graph reads lag writes', nonNegative('--graph-read-lag'), 0)
    .option(
      '--kv-create-budget <n>',
      'certificate creates per vault per 10 s before 429\n(0 = unlimited; Azure: 20)',
      nonNegative('--kv-create-budget'),
      0,
    )
    .option(
      '--graph-app-writes <n>',
      'Graph writes per app+tenant per 150 s before 429',
      nonNegative('--graph-app-writes'),
      3000,
    )
    .option(
      '--graph-tenant-writes <n>',
      'Graph writes per tenant per 5 min before 429',
      nonNegative('--graph-tenant-writes'),
      18000,
    )
    .option('--storage', 'also start blob storage (Azurite) and keep the run state there (state.kind azure-blob)')
    .action(
      async (opts: {
        dir: string;
        targets: number;
        tenantApps: number;
        latency: number;
        propagationDelay: number;
        kvCreateDelay: number;
        siteRestart: number;
        ppRemovesOldKey?: boolean;
        graphReadLag: number;
        kvCreateBudget: number;
        graphAppWrites: number;
        graphTenantWrites: number;
        storage?: boolean;
      }) => {
        const { runSandboxStart } = await import('../sandbox/run.js');
        await runSandboxStart({
          dir: opts.dir,
          targets: opts.targets,
          tenantApps: opts.tenantApps,
          latencyMs: opts.latency,
          propagationDelaySeconds: opts.propagationDelay,
          kvCreateDelaySeconds: opts.kvCreateDelay,
          siteRestartSeconds: opts.siteRestart,
          ppRemovesOldKey: opts.ppRemovesOldKey ?? false,
          graphReadLagSeconds: opts.graphReadLag,
          vaultCertificateCreatesPer10s: opts.kvCreateBudget,
          graphWriteBudget: { writes: opts.graphAppWrites, windowSeconds: 150 },
          graphTenantWriteBudget: { writes: opts.graphTenantWrites, windowSeconds: 300 },
          ...(opts.storage ? { storage: true } : {}),
          // The operator reads Dataverse as an application user of its own, so that `certrotate identity` works
          // against this sandbox as it does in a tenant where the operator was added to the environment.
          identity: { operatorReads: true },
          notifyReceivers: true,
        });
      },
    );
}
