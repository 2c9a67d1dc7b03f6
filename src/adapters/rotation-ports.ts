/**
 * The ports one rotation runs over, bound to one target: what the driver hands each step activity. Beside
 * `ports.ts`, whose interfaces it bundles.
 */
import type {
  AppOwnership,
  AppRegistry,
  CertificateStore,
  Clock,
  DataverseProbe,
  ServerKeyTarget,
  SiteDirectory,
  TokenVerifier,
} from './ports.js';

/** Every port a rotation needs, bound to one target. Adapters reach the machine only through these closures. */
export interface RotationPorts {
  certificates: CertificateStore;
  apps: AppRegistry;
  /** The server of a `keyvault` target; absent for `power-pages`. */
  server?: ServerKeyTarget;
  tokens: TokenVerifier;
  dataverse: DataverseProbe;
  /** Power Platform sites; needed by `power-pages` targets. */
  sites?: SiteDirectory;
  /** Who may change the app; power-pages preflight asks (the retire step PATCHes). Absent: not checked. */
  ownership?: AppOwnership;
  clock: Clock;
  timing?: Partial<StepTiming>;
}

/** Waits inside steps (simulated in tests). */
export interface StepTiming {
  /** Between polls of a pending Key Vault create. */
  createPollMs: number;
  /** Give up waiting for one create after this long (a retryable timeout: the next attempt polls the same one). */
  createTimeoutMs: number;
  /**
   * How long a directory read may lag a write (graph-entra §3.3). A step that may have written before (a retry or
   * a resumed run) keeps reading this long before it believes a key is absent.
   */
  readSettleMs: number;
  /** Between reads while settling. */
  readPollMs: number;
  /** power-pages: healthy answers in a row before the site counts as healthy on its new key. */
  siteHealthyChecks: number;
  /** power-pages: between those health checks. */
  siteCheckMs: number;
}
