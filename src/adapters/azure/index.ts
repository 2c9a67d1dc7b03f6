/**
 * The Azure adapters bound to one configuration: what the runner hands to the machine's ports. SDK clients are made
 * when first used, so `plan --help` or a scan of one target never builds a client it does not need.
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import type { Logger } from 'pino';
import type { Config, KeyVaultTargetConfig } from '../../config/schema.js';
import { systemClock } from '../../runs/system-clock.js';
import type {
  AppOwnership,
  AppRegistry,
  CertificateStore,
  Clock,
  DataverseProbe,
  SignInLog,
  SiteDirectory,
  TokenVerifier,
} from '../ports.js';
import { createAppOwnership } from './app-ownership.js';
import { createAppRegistry } from './app-registry.js';
import { createCertificateStore } from './certificate-store.js';
import type { ConsistencyOptions } from './consistency.js';
import { createOperatorCredential, identityOptions } from './credentials.js';
import { createDataverseProbe } from './dataverse-probe.js';
import { createKeyMaterialLoader, type KeyMaterialLoader } from './key-material.js';
import { createSignInLog } from './sign-in-log.js';
import { createSiteDirectory } from './site-directory.js';
import { createDataverseIdentityReader, type DataverseIdentityReader } from './dataverse-identity.js';
import { createTokenVerifier } from './token-verifier.js';
import { trustExtraCa } from './trust.js';
import { defaultLimiter, type ServiceLimiter } from './limiter.js';
import { cachedCredential } from './limiter-policies.js';

export type { KeyMaterial, KeyMaterialLoader } from './key-material.js';
export { classifyError, toAdapterError } from './errors.js';

/** Options of {@link createAzureAdapters}. */
export interface AzureAdapterOptions {
  logger?: Logger;
  /** Clock for waits after writes (default: the wall clock). */
  clock?: Clock;
  /** How Graph writes are awaited in reads (default: 3 reads in a row, 1 s apart, at most 60 s). */
  consistency?: ConsistencyOptions;
  /** certrotate's own credential; default: built from `config.auth`. */
  credential?: TokenCredential;
  /** Longest Retry-After Graph calls wait in-process before surfacing `throttled` (default 10 s). */
  maxInProcessWaitMs?: number;
  /** Environment for `clientSecretEnv` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The limiter every Graph, Key Vault and token request goes through (default: the process's, {@link defaultLimiter}). */
  limiter?: ServiceLimiter;
}

/** The adapters of one configuration. */
export interface AzureAdapters {
  /** The Key Vault certificate store of a keyvault target (one client per vault, reused). */
  certificates(target: KeyVaultTargetConfig): CertificateStore;
  apps: AppRegistry;
  tokens: TokenVerifier;
  dataverse: DataverseProbe;
  sites: SiteDirectory;
  /** Whether certrotate's identity may change an app (power-pages preflight). */
  ownership: AppOwnership;
  /** Entra's service-principal sign-in log (prune's evidence that a key is unused). */
  signIns: SignInLog;
  keyMaterial: KeyMaterialLoader;
  /** The identity audit's Dataverse reads, with certrotate's own identity (src/adapters/azure/dataverse-identity.ts). */
  identity: DataverseIdentityReader;
}

/**
 * Builds the Azure adapters for `config`. When `cloud.caFile` is set, its CA is trusted process-wide (node:https and
 * fetch, see {@link trustExtraCa}) and passed to the Key Vault clients as `tlsOptions.ca` as well.
 */
export function createAzureAdapters(config: Config, opts: AzureAdapterOptions = {}): AzureAdapters {
  const caPem = config.cloud.caFile ? readFileSync(config.cloud.caFile, 'utf8') : undefined;
  if (caPem && !trustExtraCa(caPem)) {
    opts.logger?.warn(
      { caFile: config.cloud.caFile },
      'this Node cannot add a trusted CA at run time; start it with NODE_EXTRA_CA_CERTS pointing at cloud.caFile',
    );
  }
  const limiter = opts.limiter ?? defaultLimiter;
  // The fetch-based adapters (Dataverse, the Power Platform API, Graph reads outside the Graph client) share it too,
  // Graph under the same caller as the Graph client, so a 429 on any of them is waited out like an SDK client's.
  const operatorAppId = 'clientId' in config.auth && config.auth.clientId ? config.auth.clientId : undefined;
  const limit = { limiter };
  const graphLimit = { limiter, caller: { appId: operatorAppId ?? 'operator', tenantId: config.tenantId } };
  const identity = identityOptions(config.cloud, caPem, limiter);
  let credential: TokenCredential | undefined;
  // certrotate's own tokens are cached per scope for their lifetime: one token request per scope for a whole fleet.
  const operator = () =>
    (credential ??= cachedCredential(
      opts.credential ??
        createOperatorCredential(config, {
          ...(caPem ? { caPem } : {}),
          ...(opts.env ? { env: opts.env } : {}),
          limiter,
        }),
    ));
  const clock = opts.clock ?? systemClock;
  const lazy = <T>(make: () => T) => {
    let v: T | undefined;
    return () => (v ??= make());
  };
  // A proxy-free lazy credential: the SDK clients only call getToken, so they may hold this before it exists.
  const lazyCredential: TokenCredential = { getToken: (scopes, o) => operator().getToken(scopes, o) };
  const keyMaterial = lazy(() =>
    createKeyMaterialLoader({ credential: lazyCredential, limiter, ...(caPem ? { caPem } : {}) }),
  );
  const loader: KeyMaterialLoader = { load: (ref, o) => keyMaterial().load(ref, o) };
  const stores = new Map<string, CertificateStore>();
  const apps = lazy(() =>
    createAppRegistry({
      tenantId: config.tenantId,
      graphUrl: config.cloud.graphUrl,
      credential: lazyCredential,
      identity,
      keyMaterial: loader,
      clock,
      limiter,
      ...(operatorAppId ? { operatorAppId } : {}),
      ...(opts.consistency ? { consistency: opts.consistency } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.maxInProcessWaitMs !== undefined ? { maxInProcessWaitMs: opts.maxInProcessWaitMs } : {}),
    }),
  );
  const tokens = lazy(() =>
    createTokenVerifier({
      tenantId: config.tenantId,
      identity,
      keyMaterial: loader,
      ...(opts.logger ? { logger: opts.logger } : {}),
    }),
  );
  const sites = lazy(() =>
    createSiteDirectory({
      powerPlatformUrl: config.cloud.powerPlatformUrl,
      credential: lazyCredential,
      siteUrls: new Map(
        config.targets.flatMap((t) =>
          t.kind === 'power-pages' && t.siteUrl ? [[t.websiteId, t.siteUrl] as const] : [],
        ),
      ),
      ...(opts.logger ? { logger: opts.logger } : {}),
      limit,
    }),
  );
  const dataverse = lazy(() => createDataverseProbe({ limit }));
  const ownership = lazy(() =>
    createAppOwnership({ graphUrl: config.cloud.graphUrl, credential: lazyCredential, limit: graphLimit }),
  );
  const identityReader = lazy(() =>
    createDataverseIdentityReader({
      credential: lazyCredential,
      powerPlatformUrl: config.cloud.powerPlatformUrl,
      limit,
    }),
  );
  const signIns = lazy(() =>
    createSignInLog({ graphUrl: config.cloud.graphUrl, credential: lazyCredential, limit: graphLimit }),
  );
  return {
    certificates(target) {
      const url = target.keyVault.url.replace(/\/+$/, '');
      let s = stores.get(url);
      if (!s) {
        s = createCertificateStore({
          vaultUrl: url,
          credential: lazyCredential,
          limiter,
          ...(caPem ? { caPem } : {}),
          ...(opts.logger ? { logger: opts.logger } : {}),
        });
        stores.set(url, s);
      }
      return s;
    },
    get apps() {
      return apps();
    },
    get tokens() {
      return tokens();
    },
    get dataverse() {
      return dataverse();
    },
    get sites() {
      return sites();
    },
    get ownership() {
      return ownership();
    },
    get signIns() {
      return signIns();
    },
    keyMaterial: loader,
    get identity() {
      return identityReader();
    },
  };
}
