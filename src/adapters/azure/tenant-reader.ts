/**
 * The {@link TenantReader} port over Azure (read-only, I6): Graph `GET /applications` and `/servicePrincipals` with
 * `$select`, paged through `@odata.nextLink` (followed unchanged, as Graph requires: its skip tokens are opaque), the
 * Power Platform API's environments and websites, the certificate versions of a vault through the Key Vault SDK, and
 * Dataverse's `systemusers` for application users.
 */
import type { TokenCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import type {
  TenantApplication,
  TenantReader,
  TenantServicePrincipal,
  TenantSite,
  VaultCertificateVersion,
} from '../../fleet/tenant-reader.js';
import { AdapterError } from '../ports.js';
import { httpJson, httpRequest } from './http.js';
import { isAzureVaultHost, KEY_VAULT_SERVICE_VERSION } from './key-material.js';
import { POWER_PAGES_API_VERSION } from './site-directory.js';

/** Options of {@link createTenantReader}. */
export interface TenantReaderOptions {
  graphUrl: string;
  powerPlatformUrl: string;
  credential: TokenCredential;
  caPem?: string;
}

/** Pages followed at most: a loop guard against a server whose next links never end (999 × 1000 objects). */
const MAX_PAGES = 1000;

const APP_SELECT = 'id,appId,displayName,keyCredentials,passwordCredentials';
const SP_SELECT = 'id,appId,displayName,keyCredentials,passwordCredentials';

interface Page<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

/** A {@link TenantReader} over Graph, the Power Platform API, Key Vault and Dataverse. */
export function createTenantReader(opts: TenantReaderOptions): TenantReader {
  const graph = opts.graphUrl.replace(/\/+$/, '');
  const pp = opts.powerPlatformUrl.replace(/\/+$/, '');
  const token = async (resource: string) => {
    const t = await opts.credential.getToken(`${resource}/.default`);
    if (!t) throw new AdapterError({ code: 'forbidden', message: `no token for ${resource}`, retryable: false });
    return t.token;
  };

  /** Every item of a paged collection, following `@odata.nextLink` exactly as given. */
  async function all<T>(firstUrl: string, resource: string, what: string): Promise<T[]> {
    const bearer = await token(resource);
    const items: T[] = [];
    let url: string | undefined = firstUrl;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const res = await httpJson(url, { headers: { authorization: `Bearer ${bearer}` } }, { operation: what });
      const body = res.body as Page<T>;
      items.push(...(body.value ?? []));
      url = body['@odata.nextLink'];
    }
    return items;
  }

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

    async sites(environmentId) {
      let environments: { id: string; name?: string; dataverseUrl?: string }[];
      try {
        environments = environmentId
          ? [{ id: environmentId }]
          : (
              await all<{ id: string; displayName?: string; dataverseOrganizationUrl?: string }>(
                `${pp}/environmentmanagement/environments?api-version=2022-03-01-preview`,
                pp,
                'Power Platform list environments',
              )
            ).map((e) => ({
              id: e.id,
              ...(e.displayName ? { name: e.displayName } : {}),
              ...(e.dataverseOrganizationUrl ? { dataverseUrl: e.dataverseOrganizationUrl } : {}),
            }));
      } catch (err) {
        return { value: [], note: `Power Pages sites not matched: ${(err as Error).message}` };
      }
      const sites: TenantSite[] = [];
      const failed: string[] = [];
      for (const env of environments) {
        try {
          const list = await all<{
            id: string;
            name?: string;
            websiteUrl?: string;
            environmentName?: string;
            applicationUserAadAppId?: string;
            dataverseInstanceUrl?: string;
          }>(
            `${pp}/powerpages/environments/${encodeURIComponent(env.id)}/websites?api-version=${POWER_PAGES_API_VERSION}`,
            pp,
            `Power Platform list websites of ${env.id}`,
          );
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
        } catch (err) {
          failed.push(`${env.id} (${(err as Error).message})`);
        }
      }
      return failed.length
        ? { value: sites, note: `Power Pages sites not read for environment(s) ${failed.join(', ')}` }
        : { value: sites };
    },

    async vaultVersions(vaultUrl) {
      const client = new CertificateClient(vaultUrl, opts.credential, {
        serviceVersion: KEY_VAULT_SERVICE_VERSION,
        disableChallengeResourceVerification: !isAzureVaultHost(vaultUrl),
        ...(opts.caPem ? { tlsOptions: { ca: opts.caPem } } : {}),
      });
      const out: VaultCertificateVersion[] = [];
      try {
        for await (const cert of client.listPropertiesOfCertificates()) {
          if (!cert.name) continue;
          for await (const v of client.listPropertiesOfCertificateVersions(cert.name)) {
            if (!v.x509Thumbprint || !v.version) continue;
            out.push({
              vaultUrl,
              certificate: cert.name,
              version: v.version,
              thumbprint: Buffer.from(v.x509Thumbprint).toString('hex').toUpperCase(),
            });
          }
        }
      } catch (err) {
        const e = err as { statusCode?: number; message?: string };
        throw new AdapterError({
          code: e.statusCode === 403 ? 'forbidden' : 'unknown',
          message: `Key Vault ${vaultUrl}: cannot list certificates: ${e.message ?? String(err)}`,
          retryable: false,
        });
      }
      return out;
    },

    async applicationUsers(environmentId) {
      const site = (await this.sites(environmentId)).value.find((s) => s.dataverseUrl);
      const envs = site
        ? []
        : await all<{ id: string; dataverseOrganizationUrl?: string }>(
            `${pp}/environmentmanagement/environments?api-version=2022-03-01-preview`,
            pp,
            'Power Platform list environments',
          ).catch(() => []);
      const dataverse = site?.dataverseUrl ?? envs.find((e) => e.id === environmentId)?.dataverseOrganizationUrl;
      if (!dataverse) {
        return {
          value: new Map(),
          note: `Dataverse application users not listed: no Dataverse URL for ${environmentId}`,
        };
      }
      const base = dataverse.replace(/\/+$/, '');
      const url = `${base}/api/data/v9.2/systemusers?$select=systemuserid,applicationid&$filter=applicationid ne null`;
      const res = await httpRequest(
        url,
        { headers: { authorization: `Bearer ${await token(base)}`, 'odata-version': '4.0' } },
        { operation: `Dataverse systemusers at ${base}` },
      );
      if (res.status < 200 || res.status >= 300) {
        return {
          value: new Map(),
          note: `Dataverse application users not listed: ${base} answered ${res.status} to systemusers`,
        };
      }
      const rows = ((res.body as Page<{ systemuserid: string; applicationid?: string }>).value ?? []).filter(
        (r) => r.applicationid,
      );
      return { value: new Map(rows.map((r) => [r.applicationid!.toLowerCase(), r.systemuserid])) };
    },
  };
}
