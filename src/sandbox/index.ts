/**
 * The local Azure sandbox (DESIGN §6): Entra, Graph, Key Vault (one port per vault), Dataverse, Power Platform, one
 * app server per keyvault target and one site per power-pages target, all HTTPS on 127.0.0.1 behind a CA generated
 * at start, plus the admin API. `startSandbox` seeds the world, writes `D/ca.pem` and `D/certrotate.yaml`, and
 * returns a handle that tests, the demo and the benchmarks use in-process.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createKeyVaultService, type KeyVaultCaller, type KeyVaultService } from './keyvault/index.js';
import { createAccessTokenIssuer, normaliseAudience } from './access-tokens.js';
import { registerAdmin } from './admin.js';
import { createAppServer, type AppServer } from './app-server.js';
import { createSandboxClock, isoTime, type SandboxClock } from './clock.js';
import { addApplicationUser, createDataverseOrg, registerDataverse } from './dataverse.js';
import { createDirectory, type Application, type Directory } from './directory.js';
import { aadstsBody, registerEntra } from './entra.js';
import { graphAppId, graphErrorBody, graphResource, registerGraph } from './graph.js';
import { createHistory, type History } from './history.js';
import { createInstrumentation, type Instrumentation } from './instrumentation.js';
import { createKeyPool, type KeyPool } from './key-pool.js';
import { createSandboxTls } from './pki.js';
import { powerPlatformResource, registerPowerPlatform, type WebsiteDto } from './power-platform.js';
import { sandboxConfigYaml, type WrittenKeyVaultTarget, type WrittenPowerPagesTarget } from './sandbox-config.js';
import { createServiceHost, type ServiceHost } from './service-host.js';
import { createSiteManager, type SiteManager } from './sites.js';
import { certificateExpiringIn, registerCurrentKey, seededTargets } from './world.js';

export type { FaultRule, RequestLogEntry } from './instrumentation.js';
export type { HistoryEvent } from './history.js';

/** Options of `startSandbox` (the CLI's `sandbox start` flags map onto them). */
export interface SandboxOptions {
  /** Directory for `ca.pem` and `certrotate.yaml`; a new temp directory when omitted. */
  dir?: string;
  /** Extra keyvault targets `bench-0001`… (due), for benchmarks and fleet runs. Default 0. */
  targets?: number;
  /** Latency added to every service request, in ms. Default 0. */
  latencyMs?: number;
  /** Seconds before a newly added key credential works for tokens (AADSTS700027 until then). Default 2. */
  propagationDelaySeconds?: number;
  /** Seconds a Key Vault certificate create stays `inProgress`. Default 1. */
  kvCreateDelaySeconds?: number;
  /** Seconds a Power Pages site restarts after Update key. Default 3. */
  siteRestartSeconds?: number;
  /** Model a platform that removes the old key from the app when Update key completes. Default false. */
  ppRemovesOldKey?: boolean;
  /** Seconds by which Graph application reads lag writes. Default 0. */
  graphReadLagSeconds?: number;
  /** Graph writes per caller app and tenant before 429 + Retry-After. Default 3000 per 150 s (Entra's limit). */
  graphWriteBudget?: { writes: number; windowSeconds: number };
  /** Key Vault writes per 10 s before 429, 0 = unlimited. Default 0. */
  vaultWriteBudgetPer10s?: number;
  /** Pre-generated keys kept ready. Default 4. */
  keyPoolSize?: number;
  /** fastify/pino log level of the services. Default silent. */
  logLevel?: string;
}

/** A seeded target as the sandbox knows it. */
export interface SandboxTarget {
  name: string;
  kind: 'keyvault' | 'power-pages';
  appId: string;
  objectId: string;
  vaultUrl?: string;
  certificate?: string;
  serverUrl?: string;
  websiteId?: string;
  environmentId?: string;
  siteUrl?: string;
}

/** A running sandbox. */
export interface Sandbox {
  adminUrl: string;
  configPath: string;
  caPem: string;
  dir: string;
  tenantId: string;
  urls: { entra: string; graph: string; dataverse: string; powerPlatform: string };
  /** The seeded operator identity the written config signs in as. */
  operator: { clientId: string; clientSecret: string; objectId: string };
  targets: SandboxTarget[];
  directory: Directory;
  history: History;
  clock: SandboxClock;
  pool: KeyPool;
  instrumentation: Instrumentation;
  sites: SiteManager;
  servers: AppServer[];
  stop(): Promise<void>;
}

const vaultResource = 'https://vault.azure.net';
const operatorGraphRoles = ['Application.ReadWrite.OwnedBy'];

/** Starts the sandbox, seeds its world and writes its config; resolves once every service listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'certrotate-sandbox-'))));
  await mkdir(dir, { recursive: true });
  const clock = createSandboxClock();
  const history = createHistory(clock);
  const pool = createKeyPool({ target: options.keyPoolSize ?? 4 });
  const seeds = seededTargets(options.targets ?? 0);
  // Generate every key the seeding needs at once, in parallel, before anything listens.
  await pool.fill(2048, 3 + seeds.length + (options.keyPoolSize ?? 4));
  const tls = await createSandboxTls(pool);
  const directory = createDirectory({ clock, history, propagationDelaySeconds: options.propagationDelaySeconds ?? 2 });
  const instrumentation = createInstrumentation({ clock, latencyMs: options.latencyMs ?? 0 });
  const hosts: ServiceHost[] = [];
  const host = (
    kind: string,
    name: string,
    faultBody: (status: number, message: string) => unknown,
    instrumented = true,
  ) => {
    const h = createServiceHost({
      tls,
      instrumentation: instrumented ? instrumentation : undefined,
      kind,
      name,
      faultBody,
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    });
    hosts.push(h);
    return h;
  };
  const genericFault = (status: number, message: string) => ({ error: { code: `Http${status}`, message } });

  const entra = host('entra', 'entra', (status, message) =>
    aadstsBody(
      status === 429 ? 50196 : 90033,
      status === 429 ? 'temporarily_unavailable' : 'server_error',
      message,
      clock.now(),
    ),
  );
  const graph = host('graph', 'graph', (status, message) =>
    graphErrorBody(status === 429 ? 'Request_ThrottledTemporarily' : 'ServiceUnavailable', message, clock.now()),
  );
  const dataverse = host('dataverse', 'dataverse', genericFault);
  const powerPlatform = host('powerplatform', 'powerplatform', genericFault);
  const admin = host('admin', 'admin', genericFault, false);

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
  // Key Vault access policies: vault name → app id → operations ('*' = all).
  const vaultAccess = new Map<string, Map<string, Set<string>>>();
  const grantVault = (vault: string, appId: string, ops: string[]) => {
    let m = vaultAccess.get(vault);
    if (!m) vaultAccess.set(vault, (m = new Map()));
    const set = m.get(appId.toLowerCase()) ?? new Set<string>();
    ops.forEach((o) => set.add(o));
    m.set(appId.toLowerCase(), set);
  };

  registerEntra(entra.app, {
    directory,
    tokens,
    clock,
    history,
    baseUrl: () => entra.url,
    resolveResource(resource, app) {
      const r = normaliseAudience(resource);
      if ([graphResource, graphAppId, graph.url].map(normaliseAudience).includes(r))
        return { kind: 'graph', roles: app.graphRoles };
      if (r === normaliseAudience(vaultResource)) return { kind: 'keyvault', roles: [] };
      if (r === normaliseAudience(dataverse.url)) return { kind: 'dataverse', roles: [] };
      if ([powerPlatformResource, powerPlatform.url].map(normaliseAudience).includes(r))
        return { kind: 'powerplatform', roles: [] };
      return undefined;
    },
  });
  registerGraph(graph.app, {
    directory,
    tokens,
    clock,
    baseUrl: () => graph.url,
    writeBudget: options.graphWriteBudget ?? { writes: 3000, windowSeconds: 150 },
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
    websites: (env) =>
      env === environmentId
        ? sites
            .all()
            .filter((s) => s.environmentId === env)
            .map((s) => s.dto)
        : undefined,
  });

  const servers: AppServer[] = [];
  const vaultServices = new Map<string, { service: KeyVaultService; url: string }>();
  const targets: SandboxTarget[] = [];

  registerAdmin(admin.app, {
    history,
    instrumentation,
    sites,
    state: () => ({
      apps: directory.apps().map((a) => ({
        appId: a.appId,
        objectId: a.id,
        displayName: a.displayName,
        target: targets.find((t) => t.appId === a.appId)?.name ?? null,
        keyCredentials: a.keyCredentials.map((k) => ({
          keyId: k.keyId,
          thumbprint: k.thumbprint,
          start: isoTime(k.startMs),
          end: isoTime(k.endMs),
        })),
        federatedIdentityCredentials: a.federatedIdentityCredentials.map((f) => ({ id: f.id, name: f.name })),
      })),
      vaults: [...vaultServices.values()].map((v) => v.service.state()),
      servers: servers.map((s) => ({
        name: s.name,
        appId: s.appId,
        thumbprint: s.current().thumbprint,
        previousThumbprint: s.previous()?.thumbprint ?? null,
      })),
      sites: sites.all().map((s) => ({
        websiteId: s.websiteId,
        target: s.target,
        appId: s.app.appId,
        status: s.status,
        thumbprint: s.thumbprint,
        url: s.url,
      })),
    }),
  });

  try {
    await Promise.all([entra, graph, dataverse, powerPlatform, admin].map((h) => h.listen()));

    const operator = directory.createApp({
      displayName: 'certrotate-operator',
      graphRoles: operatorGraphRoles,
      powerPlatformReader: true,
    });
    const operatorSecret = directory.addPassword(operator, 'certrotate sandbox');

    const vaultFor = async (name: string) => {
      const existing = vaultServices.get(name);
      if (existing) return existing;
      const h = host('keyvault', name, (status, message) => ({
        error: { code: status === 429 ? 'Throttled' : 'ServiceUnavailable', message },
      }));
      const service = createKeyVaultService({
        name,
        authorizationUri: `${entra.url}/${directory.tenantId}`,
        resource: vaultResource,
        async verifyAccessToken(token): Promise<KeyVaultCaller | null> {
          const result = await tokens.verify(token, [vaultResource]);
          if ('error' in result || result.claims.tid !== directory.tenantId) return null;
          const c = result.claims;
          return { appId: c.appid, objectId: c.oid, tenantId: c.tid, roles: c.roles ?? [] };
        },
        authorize(caller, operation) {
          const ops = vaultAccess.get(name)?.get(caller.appId.toLowerCase());
          return Boolean(ops && (ops.has('*') || ops.has(operation)));
        },
        takeKeyPair: (n) => pool.takeKeyPair(n),
        now: () => clock.now(),
        createDelaySeconds: options.kvCreateDelaySeconds ?? 1,
        writeBudgetPer10s: options.vaultWriteBudgetPer10s ?? 0,
      });
      service.register(h.app);
      const url = await h.listen();
      service.setBaseUrl(url);
      grantVault(name, operator.appId, ['*']);
      const entry = { service, url };
      vaultServices.set(name, entry);
      return entry;
    };

    const now = clock.now();
    const written: (WrittenKeyVaultTarget | WrittenPowerPagesTarget)[] = [];

    const ownedApp = (displayName: string): Application => {
      const app = directory.createApp({ displayName });
      directory.addOwner(app, operator);
      addApplicationUser(org, app.appId);
      return app;
    };

    for (const seed of seeds) {
      if (seed.kind === 'keyvault') {
        const app = ownedApp(seed.name);
        const material = await certificateExpiringIn(pool, now, seed.subject, seed.daysLeft, seed.validityDays);
        registerCurrentKey(directory, app, material);
        const vault = await vaultFor(seed.vault);
        await vault.service.importCertificate(seed.certificate, {
          certDer: material.certDer,
          privateKeyPkcs8: material.privateKeyPkcs8,
          contentType: 'application/x-pem-file',
        });
        const identity = directory.createApp({ displayName: `${seed.name}-server` });
        const identitySecret = directory.addPassword(identity, 'key vault access');
        grantVault(seed.vault, identity.appId, ['secrets/get']);
        const serverHost = host('server', seed.name, genericFault);
        const server = createAppServer({
          name: seed.name,
          tenantId: directory.tenantId,
          appId: app.appId,
          authorityHost: entra.url,
          dataverseUrl: () => dataverse.url,
          caPem: tls.caPem,
          vaultIdentity: { clientId: identity.appId, clientSecret: identitySecret },
          history,
          initialKey: { thumbprint: material.thumbprint, pemBundle: material.pemBundle },
        });
        server.register(serverHost.app);
        const serverUrl = await serverHost.listen();
        servers.push(server);
        history.record({ kind: 'serverKey', server: seed.name, thumbprint: material.thumbprint });
        const vaultUrl = vault.url;
        targets.push({
          name: seed.name,
          kind: 'keyvault',
          appId: app.appId,
          objectId: app.id,
          vaultUrl,
          certificate: seed.certificate,
          serverUrl,
        });
        written.push({
          kind: 'keyvault',
          name: seed.name,
          appId: app.appId,
          vaultUrl,
          certificate: seed.certificate,
          subject: seed.subject,
          webhookUrl: `${serverUrl}/admin/s2s-key`,
          dataverseUrl: dataverse.url,
        });
      } else {
        const app = ownedApp(`Portals - ${seed.siteName}`);
        let thumbprint: string | null = null;
        let keyId: string | null = null;
        if (seed.daysLeft === null) {
          directory.setKeyCredentials(app, []);
          directory.addFederatedCredential(app, {
            name: 'PowerPagesManagedIdentity',
            issuer: `${entra.url}/${directory.tenantId}/v2.0`,
            subject: `/eid1/c/pub/t/${directory.tenantId}/a/${app.appId}/powerpages/${seed.siteName}`,
            audiences: ['api://AzureADTokenExchange'],
            description: 'Power Pages platform-managed identity',
          });
        } else {
          const material = await certificateExpiringIn(pool, now, `CN=Portals - ${seed.siteName}`, seed.daysLeft, 730);
          const credential = registerCurrentKey(directory, app, material);
          thumbprint = credential.thumbprint;
          keyId = credential.keyId;
        }
        const websiteId = randomUUID();
        const siteHost = host('site', seed.name, genericFault);
        const dto: WebsiteDto = {
          id: websiteId,
          name: seed.siteName,
          createdOn: isoTime(now - 400 * 86_400_000),
          templateName: 'DefaultPortalTemplate',
          websiteUrl: '',
          tenantId: directory.tenantId,
          dataverseInstanceUrl: dataverse.url,
          environmentName: 'contoso-prod',
          environmentId,
          dataverseOrganizationId: org.organizationId,
          selectedBaseLanguage: 1033,
          customHostNames: [],
          websiteRecordId: randomUUID(),
          subdomain: seed.siteName,
          packageInstallStatus: 'Installed',
          type: 'Production',
          trialExpiringInDays: null,
          suspendedWebsiteDeletingInDays: null,
          packageVersion: seed.daysLeft === null ? '9.6.9.50' : '9.5.2307.10',
          isEarlyUpgradeEnabled: false,
          isCustomErrorEnabled: false,
          applicationUserAadAppId: app.appId,
          ownerId: operator.servicePrincipalId,
          status: 'Running',
          siteVisibility: 'Public',
        };
        const site = {
          websiteId,
          target: seed.name,
          environmentId,
          app,
          federated: seed.daysLeft === null,
          status: 'running' as const,
          thumbprint,
          keyId,
          url: '',
          dto,
        };
        sites.register(siteHost.app, site);
        site.url = await siteHost.listen();
        dto.websiteUrl = site.url;
        sites.add(site);
        if (thumbprint) history.record({ kind: 'siteKey', websiteId, thumbprint });
        targets.push({
          name: seed.name,
          kind: 'power-pages',
          appId: app.appId,
          objectId: app.id,
          websiteId,
          environmentId,
          siteUrl: site.url,
        });
        written.push({
          kind: 'power-pages',
          name: seed.name,
          appId: app.appId,
          environmentId,
          websiteId,
          siteUrl: site.url,
        });
      }
    }

    directory.settle();
    const caPath = join(dir, 'ca.pem');
    const configPath = join(dir, 'certrotate.yaml');
    await writeFile(caPath, tls.caPem);
    await writeFile(
      configPath,
      sandboxConfigYaml({
        tenantId: directory.tenantId,
        authorityHost: entra.url,
        graphUrl: graph.url,
        powerPlatformUrl: powerPlatform.url,
        caFile: './ca.pem',
        operator: { clientId: operator.appId, clientSecret: operatorSecret },
        targets: written,
      }),
      // The file carries the operator's (sandbox-only) secret.
      { mode: 0o600 },
    );

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
      directory,
      history,
      clock,
      pool,
      instrumentation,
      sites,
      servers,
      async stop() {
        if (stopped) return;
        stopped = true;
        sites.close();
        pool.close();
        await Promise.all(hosts.map((h) => h.app.close()));
      },
    };
  } catch (err) {
    sites.close();
    pool.close();
    await Promise.allSettled(hosts.map((h) => h.app.close()));
    throw err;
  }
}
