/**
 * The sandbox's public shapes: the options `startSandbox` takes (the CLI's `sandbox start` flags map onto them),
 * the seeded targets it reports and the handle it returns.
 */
import type { AppServer } from './app-server.js';
import type { SandboxClock } from './clock.js';
import type { Directory } from './directory.js';
import type { IdentityWorld, IdentityWorldOptions } from './dataverse/identity-world.js';
import type { DataverseTables } from './dataverse/tables.js';
import type { History } from './history.js';
import type { Instrumentation } from './instrumentation.js';
import type { KeyPool } from './key-pool.js';
import type { SiteManager } from './sites.js';
import type { NotificationReceivers } from './notification-receivers.js';
import type { SandboxStorage } from './storage.js';

/** Options of `startSandbox` (the CLI's `sandbox start` flags map onto them). */
export interface SandboxOptions {
  /** Directory for `ca.pem` and `certrotate.yaml`; a new temp directory when omitted. */
  dir?: string;
  /** Extra keyvault targets `bench-0001`… (due), for benchmarks and fleet runs, at most 2,000. Default 0. */
  targets?: number;
  /**
   * Extra app registrations `fleet-0001`… for `discover` (seeding/tenant-apps.ts): certificates, secrets, expired
   * and expiring ones, federated apps, three Key Vault-backed apps in vault `kv-fleet`, one Power Pages site. Default 0.
   */
  tenantApps?: number;
  /** Key Vault operations the operator identity is refused on one vault (403 Forbidden), e.g. for `doctor`. */
  vaultDenials?: { vault: string; operations: string[] }[];
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
  /** Graph writes per tenant (all apps) before 429 + Retry-After. Default 18,000 per 300 s (Entra's limit). */
  graphTenantWriteBudget?: { writes: number; windowSeconds: number };
  /** Key Vault certificate creates per vault per 10 s before 429, 0 = unlimited (Azure's key CREATE row: 20). Default 0. */
  vaultCertificateCreatesPer10s?: number;
  /** Pre-generated keys kept ready. Default 4. */
  keyPoolSize?: number;
  /** fastify/pino log level of the services. Default silent. */
  logLevel?: string;
  /**
   * Also start blob storage (Azurite, see storage.ts) with a `certrotate` container, and write
   * `state: { kind: azure-blob, … }` into the generated config instead of the file state. Default false.
   */
  storage?: boolean;
  /**
   * Also start the notification receivers (notification-receivers.ts), write a `notify:` section for them into the
   * generated config and their URLs and signing secret into `D/notify.env`. `sandbox start` sets it. Default false.
   */
  notifyReceivers?: boolean;
  /** The identity world of the sandbox Dataverse: extra rows for paging, a table no caller may read. */
  identity?: IdentityWorldOptions;
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
  /** The seeded Dataverse identity world (SYSTEM's id, the migrated site). */
  identity: IdentityWorld;
  /** The sandbox Dataverse's in-memory tables (an in-process test may deny a table between two commands). */
  dataverseTables: DataverseTables;
  directory: Directory;
  history: History;
  clock: SandboxClock;
  pool: KeyPool;
  instrumentation: Instrumentation;
  sites: SiteManager;
  servers: AppServer[];
  /** Blob storage, when started with `storage: true`; its container is {@link SandboxStorage} `container`. */
  storage?: SandboxStorage & { container: string };
  /** The notification receivers, when started with `notifyReceivers: true`. */
  notifications?: NotificationReceivers;
  stop(): Promise<void>;
}
