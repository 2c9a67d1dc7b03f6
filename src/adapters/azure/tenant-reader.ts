/**
 * The {@link TenantReader} port over Azure (read-only, I6): Graph `GET /applications` and `/servicePrincipals` with
 * `$select`, paged through `@odata.nextLink` (followed unchanged, as Graph requires: its skip tokens are opaque), the
 * Power Platform API's environments and websites, the certificate versions of a vault through the Key Vault SDK, and
 * Dataverse's `systemusers` for application users (dataverse-identity.ts, a batch of app ids per query). Per-item
 * reads (websites per environment, versions per certificate, user batches) run concurrently, bounded by
 * `concurrency`, all under the shared limiter; results keep a stable order whatever order they arrive in.
 */
import type { TokenCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import type {
  TenantApplication,
  TenantReader,
  TenantServicePrincipal,
  TenantSite,
  VaultCertificateVersion,
  WithNote,
} from '../../fleet/tenant-reader.js';
import pLimit, { type LimitFunction } from 'p-limit';
import { AdapterError } from '../ports.js';
import { createDataverseIdentityReader } from './dataverse-identity.js';
import { httpJson, type HttpLimit } from './http.js';
import { isAzureVaultHost, KEY_VAULT_SERVICE_VERSION } from './key-material.js';
import { DEFAULT_READ_CONCURRENCY, type ServiceLimiter } from './limiter.js';
import { limiterClientOptions } from './limiter-policies.js';
import { POWER_PAGES_API_VERSION } from './site-directory.js';

/** Options of {@link createTenantReader}. */
export interface TenantReaderOptions {
  graphUrl: string;
  powerPlatformUrl: string;
  credential: TokenCredential;
  caPem?: string;
  /**
   * The shared limiter: every Graph, Power Platform, Dataverse and Key Vault request of discover is admitted under
   * its service's budget, and a 429 with Retry-After is waited out instead of failing discover.
   */
  limiter?: ServiceLimiter;
  /** Who calls Graph (its per app+tenant budget): the operator's client id (or a stable name) and the tenant. */
  caller?: { appId: string; tenantId: string };
  /** Per-item reads in flight at once (websites per environment, versions per certificate, user batches). */
  concurrency?: number;
}

/** Pages followed at most: a loop guard against a server whose next links never end (999 × 1000 objects). */
const MAX_PAGES = 1000;

const APP_SELECT = 'id,appId,displayName,keyCredentials,passwordCredentials';
const SP_SELECT = 'id,appId,displayName,keyCredentials,passwordCredentials';

interface Page<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

interface WebsiteDto {
  id: string;
  name?: string;
  websiteUrl?: string;
  environmentName?: string;
  applicationUserAadAppId?: string;
  dataverseInstanceUrl?: string;
}

/** `items` mapped by `f`, at most `limit` at once, results in the order of `items` (output stays stable). */
function mapLimited<T, R>(items: readonly T[], limit: LimitFunction, f: (item: T) => Promise<R>): Promise<R[]> {
  return Promise.all(items.map((item) => limit(() => f(item))));
}

/** A {@link TenantReader} over Graph, the Power Platform API, Key Vault and Dataverse. */
export function createTenantReader(opts: TenantReaderOptions): TenantReader {
  const graph = opts.graphUrl.replace(/\/+$/, '');
  const pp = opts.powerPlatformUrl.replace(/\/+$/, '');
  const perItem = pLimit(Math.max(1, opts.concurrency ?? DEFAULT_READ_CONCURRENCY));
  const token = async (resource: string) => {
    const t = await opts.credential.getToken(`${resource}/.default`);
    if (!t) throw new AdapterError({ code: 'forbidden', message: `no token for ${resource}`, retryable: false });
    return t.token;
  };
  /** The limiter for a request to `resource`: Graph's under the caller, the others by their URL alone. */
  const limitFor = (resource: string): HttpLimit | undefined =>
    opts.limiter
      ? { limiter: opts.limiter, ...(resource === graph && opts.caller ? { caller: opts.caller } : {}) }
      : undefined;

  /** Every item of a paged collection, following `@odata.nextLink` exactly as given. */
  async function all<T>(firstUrl: string, resource: string, what: string): Promise<T[]> {
    const bearer = await token(resource);
    const limit = limitFor(resource);
    const items: T[] = [];
    let url: string | undefined = firstUrl;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const res = await httpJson(
        url,
        { headers: { authorization: `Bearer ${bearer}` }, ...(limit ? { limit } : {}) },
        { operation: what },
      );
      const body = res.body as Page<T>;
      items.push(...(body.value ?? []));
      url = body['@odata.nextLink'];
    }
    return items;
  }

  const listEnvironments = () =>
    all<{ id: string; displayName?: string; dataverseOrganizationUrl?: string }>(
      `${pp}/environmentmanagement/environments?api-version=2022-03-01-preview`,
      pp,
      'Power Platform list environments',
    );

  /** The sites of one environment or of all, read once per reader (discover and its user lookup both need them). */
  const sitesRead = new Map<string, Promise<WithNote<TenantSite[]>>>();
  async function readSites(environmentId?: string): Promise<WithNote<TenantSite[]>> {
    let environments: { id: string; name?: string; dataverseUrl?: string }[];
    try {
      environments = environmentId
        ? [{ id: environmentId }]
        : (await listEnvironments()).map((e) => ({
            id: e.id,
            ...(e.displayName ? { name: e.displayName } : {}),
            ...(e.dataverseOrganizationUrl ? { dataverseUrl: e.dataverseOrganizationUrl } : {}),
          }));
    } catch (err) {
      return { value: [], note: `Power Pages sites not matched: ${(err as Error).message}` };
    }
    // One websites list per environment, read at once; results kept in the environments' order.
    const perEnv = await mapLimited(environments, perItem, async (env) => {
      try {
        const list = await all<WebsiteDto>(
          `${pp}/powerpages/environments/${encodeURIComponent(env.id)}/websites?api-version=${POWER_PAGES_API_VERSION}`,
          pp,
          `Power Platform list websites of ${env.id}`,
        );
        const sites: TenantSite[] = [];
        for (const w of list) {
          if (!w.applicationUserAadAppId) continue;
          sites.push({
            websiteId: w.id,
            name: w.name ?? w.id,
            environmentId: env.id,
            ...((w.environmentName ?? env.name) ? { environmentName: (w.environmentName ?? env.name)! } : {}),
            appId: w.applicationUserAadAppId,
            ...(w.websiteUrl ? { siteUrl: w.websiteUrl } : {}),
            ...((w.dataverseInstanceUrl ?? env.dataverseUrl)
              ? { dataverseUrl: (w.dataverseInstanceUrl ?? env.dataverseUrl)! }
              : {}),
          });
        }
        return { sites };
      } catch (err) {
        return { sites: [], failed: `${env.id} (${(err as Error).message})` };
      }
    });
    const sites = perEnv.flatMap((e) => e.sites);
    const failed = perEnv.flatMap((e) => (e.failed ? [e.failed] : []));
    return failed.length
      ? { value: sites, note: `Power Pages sites not read for environment(s) ${failed.join(', ')}` }
      : { value: sites };
  }
  const sites = (environmentId?: string) => {
    const key = environmentId ?? '*';
    let p = sitesRead.get(key);
    if (!p) sitesRead.set(key, (p = readSites(environmentId)));
    return p;
  };

  return {
    async applications() {
      interface Raw extends Omit<TenantApplication, 'owners' | 'federatedIdentityCredentials'> {
        owners?: { id: string; displayName?: string | null }[];
        federatedIdentityCredentials?: TenantApplication['federatedIdentityCredentials'];
      }
      const raw = await all<Raw>(
        `${graph}/v1.0/applications?$select=${APP_SELECT}&$expand=owners,federatedIdentityCredentials`,
        graph,
        'Graph list applications',
      );
      return raw.map((a) => ({
        id: a.id,
        appId: a.appId,
        displayName: a.displayName,
        keyCredentials: a.keyCredentials ?? [],
        passwordCredentials: a.passwordCredentials ?? [],
        federatedIdentityCredentials: (a.federatedIdentityCredentials ?? []).map((f) => ({
          name: f.name,
          issuer: f.issuer,
          subject: f.subject,
        })),
        owners: (a.owners ?? []).map((o) => o.displayName ?? o.id),
      }));
    },

    async servicePrincipalsWithCredentials() {
      const sps = await all<TenantServicePrincipal>(
        `${graph}/v1.0/servicePrincipals?$select=${SP_SELECT}`,
        graph,
        'Graph list servicePrincipals',
      );
      return sps
        .map((sp) => ({
          ...sp,
          keyCredentials: sp.keyCredentials ?? [],
          passwordCredentials: sp.passwordCredentials ?? [],
        }))
        .filter((sp) => sp.keyCredentials.length > 0 || sp.passwordCredentials.length > 0);
    },

    sites,

    async vaultVersions(vaultUrl) {
      const client = new CertificateClient(vaultUrl, opts.credential, {
        serviceVersion: KEY_VAULT_SERVICE_VERSION,
        disableChallengeResourceVerification: !isAzureVaultHost(vaultUrl),
        ...(opts.caPem ? { tlsOptions: { ca: opts.caPem } } : {}),
        ...limiterClientOptions(opts.limiter),
      });
      try {
        const names: string[] = [];
        for await (const cert of client.listPropertiesOfCertificates()) if (cert.name) names.push(cert.name);
        // The versions of each certificate are one list each: read at once, kept in the certificates' order.
        const perCert = await mapLimited(names, perItem, async (name) => {
          const versions: VaultCertificateVersion[] = [];
          for await (const v of client.listPropertiesOfCertificateVersions(name)) {
            if (!v.x509Thumbprint || !v.version) continue;
            versions.push({
              vaultUrl,
              certificate: name,
              version: v.version,
              thumbprint: Buffer.from(v.x509Thumbprint).toString('hex').toUpperCase(),
            });
          }
          return versions;
        });
        return perCert.flat();
      } catch (err) {
        const e = err as { statusCode?: number; message?: string };
        throw new AdapterError({
          code: e.statusCode === 403 ? 'forbidden' : 'unknown',
          message: `Key Vault ${vaultUrl}: cannot list certificates: ${e.message ?? String(err)}`,
          retryable: false,
        });
      }
    },

    async applicationUsers(environmentId, appIds) {
      const site = (await sites(environmentId)).value.find((s) => s.dataverseUrl);
      const envs = site ? [] : await listEnvironments().catch(() => []);
      const dataverse = site?.dataverseUrl ?? envs.find((e) => e.id === environmentId)?.dataverseOrganizationUrl;
      if (!dataverse) {
        return {
          value: new Map(),
          note: `Dataverse application users not listed: no Dataverse URL for ${environmentId}`,
        };
      }
      const reader = createDataverseIdentityReader({
        credential: opts.credential,
        powerPlatformUrl: pp,
        ...(opts.limiter ? { limit: { limiter: opts.limiter } } : {}),
      });
      try {
        const read = await reader.applicationUsers!(dataverse, appIds, {
          concurrency: opts.concurrency ?? DEFAULT_READ_CONCURRENCY,
        });
        // A refused systemusers is one clear message; the rest of discover is unaffected.
        if (read.unreadable) return { value: new Map(), note: read.unreadable.message };
        return { value: read.users };
      } catch (err) {
        return { value: new Map(), note: `Dataverse application users not listed: ${(err as Error).message}` };
      }
    },
  };
}
