/**
 * The local Azure sandbox (DESIGN §6): Entra, Graph, Key Vault (one port per vault), Dataverse, Power Platform, one
 * app server per keyvault target and one site per power-pages target, all HTTPS on 127.0.0.1 behind a CA generated
 * at start, plus the admin API. `startSandbox` seeds the world, writes `D/ca.pem` and `D/certrotate.yaml`, and
 * returns a handle that tests, the demo and the benchmarks use in-process.
 *
 * Each concern lives in its own file: the listeners (hosts.ts), the resources Entra issues tokens for
 * (first-party-resources.ts), the vaults and their access (vaults.ts), the admin projection (admin-state.ts), one
 * seeder per target kind (seeding/), the written config (sandbox-config.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createAccessTokenIssuer } from './access-tokens.js';
import { registerAdmin } from './admin.js';
import { adminState } from './admin-state.js';
import type { AppServer } from './app-server.js';
import { createSandboxClock } from './clock.js';
import { addApplicationUser, createDataverseOrg, registerDataverse } from './dataverse.js';
import { seedIdentityWorld } from './dataverse/identity-world.js';
import { createDirectory } from './directory.js';
import { registerEntra } from './entra.js';
import { createResourceResolver } from './first-party-resources.js';
import { registerGraph } from './graph/index.js';
import { createHistory } from './history.js';
import { createHostSet, entraFault, genericFault, graphFault } from './hosts.js';
import { createInstrumentation } from './instrumentation.js';
import { createKeyPool } from './key-pool.js';
import type { Sandbox, SandboxOptions, SandboxTarget } from './options.js';
import { createSandboxTls } from './pki.js';
import { registerPowerPlatform } from './power-platform.js';
import { writeSandboxFiles } from './sandbox-config.js';
import { seedTargets } from './seeding/index.js';
import { seedTenantApps } from './seeding/tenant-apps.js';
import { createSiteManager } from './sites.js';
import { ensureContainer, SANDBOX_CONTAINER, startStorage, type SandboxStorage } from './storage.js';
import { createVaults } from './vaults.js';
import { createNotificationReceivers, notifyEnvFile, sandboxNotifySection } from './notification-receivers.js';
import { NOTIFY_EVENTS } from '../notify/events.js';
import { MAX_SEEDED_TARGETS, seededTargets } from './world.js';
import { BudgetRegistry, TokenCounter } from './budgets.js';

export type { FaultRule, RequestLogEntry } from './instrumentation.js';
export type { HistoryEvent } from './history.js';
export type { Sandbox, SandboxOptions, SandboxTarget } from './options.js';

const operatorGraphRoles = ['Application.ReadWrite.OwnedBy'];

/** Starts the sandbox, seeds its world and writes its config; resolves once every service listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'certrotate-sandbox-'))));
  await mkdir(dir, { recursive: true });
  const clock = createSandboxClock();
  const budgets = new BudgetRegistry(() => clock.now());
  const tokenCounts = new TokenCounter();
  const history = createHistory(clock);
  const pool = createKeyPool({ target: options.keyPoolSize ?? 4 });
  if ((options.targets ?? 0) > MAX_SEEDED_TARGETS) {
    throw new Error(`sandbox option targets: ${options.targets} is more than ${MAX_SEEDED_TARGETS}`);
  }
  const seeds = seededTargets(options.targets ?? 0);
  // Generate every key the seeding needs at once, in parallel, before anything listens.
  await pool.fill(2048, 3 + seeds.length + (options.keyPoolSize ?? 4));
  const tls = await createSandboxTls(pool);
  const directory = createDirectory({ clock, history, propagationDelaySeconds: options.propagationDelaySeconds ?? 2 });
  const instrumentation = createInstrumentation({ clock, latencyMs: options.latencyMs ?? 0 });
  const hosts = createHostSet({ tls, instrumentation, logLevel: options.logLevel });

  const entra = hosts.add('entra', 'entra', entraFault(clock));
  const graph = hosts.add('graph', 'graph', graphFault(clock));
  const dataverse = hosts.add('dataverse', 'dataverse', genericFault);
  const powerPlatform = hosts.add('powerplatform', 'powerplatform', genericFault);
  const admin = hosts.add('admin', 'admin', genericFault, false);
  // Only when asked (`sandbox start` asks): the generated config then notifies them on every event.
  const receivers = options.notifyReceivers ? createNotificationReceivers({ hosts, clock }) : undefined;

  const tokens = createAccessTokenIssuer({
    issuer: () => `${entra.url}/${directory.tenantId}/v2.0`,
    keys: await pool.takeKeyPair(2048),
    clock,
  });
  const org = createDataverseOrg();
  const environmentId = randomUUID();
  const sites = createSiteManager({
    directory,
    history,
    pool,
    now: () => clock.now(),
    restartSeconds: options.siteRestartSeconds ?? 3,
    removesOldKey: options.ppRemovesOldKey ?? false,
  });
  const vaults = createVaults({
    hosts,
    tokens,
    directory,
    pool,
    clock,
    entraUrl: () => entra.url,
    createDelaySeconds: options.kvCreateDelaySeconds ?? 1,
    writeBudgetPer10s: options.vaultWriteBudgetPer10s ?? 0,
    certificateCreatesPer10s: options.vaultCertificateCreatesPer10s ?? 0,
    budgets,
  });

  registerEntra(entra.app, {
    directory,
    tokens,
    clock,
    history,
    baseUrl: () => entra.url,
    onTokenIssued: (appId, resource) => tokenCounts.record(appId, resource),
    resolveResource: createResourceResolver({
      graph: () => graph.url,
      dataverse: () => dataverse.url,
      powerPlatform: () => powerPlatform.url,
    }),
  });
  registerGraph(graph.app, {
    directory,
    tokens,
    clock,
    baseUrl: () => graph.url,
    history,
    writeBudget: options.graphWriteBudget ?? { writes: 3000, windowSeconds: 150 },
    tenantWriteBudget: options.graphTenantWriteBudget ?? { writes: 18_000, windowSeconds: 300 },
    budgets,
    readLagSeconds: options.graphReadLagSeconds ?? 0,
  });
  registerDataverse(dataverse.app, {
    org,
    directory,
    tokens,
    authorityBaseUrl: () => entra.url,
    baseUrl: () => dataverse.url,
  });
  registerPowerPlatform(powerPlatform.app, {
    directory,
    tokens,
    baseUrl: () => powerPlatform.url,
    environments: () => [{ id: environmentId, displayName: 'contoso-prod', dataverseUrl: dataverse.url }],
    websites: (env) =>
      env === environmentId
        ? sites
            .all()
            .filter((s) => s.environmentId === env)
            .map((s) => s.dto)
        : undefined,
  });

  const servers: AppServer[] = [];
  const targets: SandboxTarget[] = [];
  registerAdmin(admin.app, {
    history,
    instrumentation,
    sites,
    state: () => adminState({ directory, targets, vaults, servers, sites }),
    budgets: () => budgets.report(),
    tokens: () => tokenCounts.report(),
    ...(receivers ? { notifications: receivers } : {}),
  });

  let storage: SandboxStorage | undefined;
  let storageStarting: Promise<SandboxStorage> | undefined;
  try {
    // Azurite starts in its own process while the services listen here (its start-up is seconds of `require`).
    storageStarting = options.storage
      ? startStorage({ dir, certPem: tls.certPem, keyPem: tls.keyPem }).then((s) => (storage = s))
      : undefined;
    await Promise.all([entra, graph, dataverse, powerPlatform, admin].map((h) => h.listen()));
    await receivers?.listen();
    if (storageStarting) await ensureContainer((await storageStarting).accountUrl, SANDBOX_CONTAINER, tls.caPem);

    const operator = directory.createApp({
      displayName: 'certrotate-operator',
      graphRoles: operatorGraphRoles,
      powerPlatformReader: true,
    });
    const operatorSecret = directory.addPassword(operator, 'certrotate sandbox');
    vaults.addAdministrator(operator.appId);

    for (const denial of options.vaultDenials ?? []) vaults.deny(denial.vault, operator.appId, denial.operations);
    const seedContext = {
      directory,
      history,
      pool,
      tls,
      hosts,
      org,
      vaults,
      sites,
      servers,
      operator,
      environmentId,
      now: clock.now(),
      entraUrl: entra.url,
      dataverseUrl: dataverse.url,
    };
    const seeded = await seedTargets(seedContext, seeds);
    await seedTenantApps(seedContext, options.tenantApps ?? 0);
    targets.push(...seeded.map((s) => s.target));
    // Only when asked: the operator reads Dataverse (the identity audit) as an application user of its own;
    // by default it has none, and WhoAmI with its token answers 403 "not a member of the organization".
    if (options.identity?.operatorReads) addApplicationUser(org, operator.appId, operator.displayName);
    const identity = seedIdentityWorld(
      org,
      sites.all().map((s) => ({ siteName: s.dto.name, appId: s.app.appId, websiteRecordId: s.dto.websiteRecordId })),
      options.identity,
    );

    directory.settle();
    const configPath = await writeSandboxFiles(dir, tls.caPem, {
      tenantId: directory.tenantId,
      authorityHost: entra.url,
      graphUrl: graph.url,
      powerPlatformUrl: powerPlatform.url,
      caFile: './ca.pem',
      operator: { clientId: operator.appId, clientSecret: operatorSecret },
      targets: seeded.map((s) => s.config),
      ...(storage
        ? { state: { kind: 'azure-blob', accountUrl: storage.accountUrl, container: SANDBOX_CONTAINER } }
        : {}),
      ...(receivers ? { notify: sandboxNotifySection(NOTIFY_EVENTS), notifyEnv: notifyEnvFile(receivers) } : {}),
    });

    let stopped = false;
    return {
      adminUrl: admin.url,
      configPath,
      caPem: tls.caPem,
      dir,
      tenantId: directory.tenantId,
      urls: { entra: entra.url, graph: graph.url, dataverse: dataverse.url, powerPlatform: powerPlatform.url },
      operator: { clientId: operator.appId, clientSecret: operatorSecret, objectId: operator.id },
      targets,
      identity,
      dataverseTables: org.tables,
      directory,
      history,
      clock,
      pool,
      instrumentation,
      sites,
      servers,
      ...(storage ? { storage: Object.assign(storage, { container: SANDBOX_CONTAINER }) } : {}),
      ...(receivers ? { notifications: receivers } : {}),
      async stop() {
        if (stopped) return;
        stopped = true;
        sites.close();
        pool.close();
        await Promise.all([hosts.closeAll(), storage?.stop()]);
      },
    };
  } catch (err) {
    sites.close();
    pool.close();
    // An Azurite still starting is waited for, so that its process never outlives a failed start.
    await storageStarting?.catch(() => undefined);
    await Promise.all([hosts.closeAll(true), storage?.stop()]);
    throw err;
  }
}
