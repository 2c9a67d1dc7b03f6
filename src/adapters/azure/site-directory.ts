/**
 * The {@link SiteDirectory} port: Power Pages websites from the Power Platform API (read with certrotate's own
 * credential), and whether a site's URL answers.
 *
 * The websites API documents delegated sign-in only (powerpages-anchors §1.9): when certrotate's identity is refused,
 * a site configured with `siteUrl` is still checked by its URL, so preflight and verification work without the API.
 */
import type { TokenCredential } from '@azure/identity';
import type { Logger } from 'pino';
import { AdapterError, type SiteDirectory, type SiteInfo } from '../ports.js';
import { classified } from './errors.js';
import { httpJson, httpRequest, type HttpLimit } from './http.js';

/** The websites API version (powerpages-anchors §1.9). */
export const POWER_PAGES_API_VERSION = '2024-10-01';

/** Options of {@link createSiteDirectory}. */
export interface SiteDirectoryOptions {
  /** `cloud.powerPlatformUrl`. */
  powerPlatformUrl: string;
  credential: TokenCredential;
  /** Site URLs from the configuration (`siteUrl`), by website id; they win over the API's `websiteUrl`. */
  siteUrls?: Map<string, string>;
  logger?: Logger;
  /** The shared limiter for the Power Platform API's requests (the site's own URL is not a budgeted service). */
  limit?: HttpLimit;
}

interface WebsiteDto {
  id: string;
  name?: string;
  websiteUrl?: string;
  environmentId?: string;
  environmentName?: string;
  applicationUserAadAppId?: string;
  status?: string;
}

/** Pages of a website list followed at most (100 sites a page): a loop guard against a server that never ends. */
const MAX_PAGES = 1000;

function toSiteInfo(dto: WebsiteDto, environmentId: string, siteUrls?: Map<string, string>): SiteInfo {
  return {
    websiteId: dto.id,
    environmentId: dto.environmentId ?? environmentId,
    name: dto.name ?? '',
    url: siteUrls?.get(dto.id) ?? dto.websiteUrl ?? '',
    // UNCONFIRMED whether this is the appId or the object id (powerpages-anchors §1.9); the sandbox and the m365 CLI's
    // samples say appId, and callers resolve it with Graph `applications(appId=…)`.
    appId: dto.applicationUserAadAppId ?? '',
    // Lowercased so that callers compare with `running` whatever casing the platform uses (it sends `Running`).
    status: (dto.status ?? 'unknown').toLowerCase(),
    ...(dto.environmentName ? { environmentName: dto.environmentName } : {}),
    source: 'api',
  };
}

/** A {@link SiteDirectory} over the Power Platform API. */
export function createSiteDirectory(opts: SiteDirectoryOptions): SiteDirectory {
  const base = opts.powerPlatformUrl.replace(/\/+$/, '');
  const scope = `${base}/.default`;

  async function token(operation: string, signal?: AbortSignal): Promise<string> {
    return classified({ operation }, async () => {
      const t = await opts.credential.getToken(scope, signal ? { abortSignal: signal } : {});
      if (!t) throw new AdapterError({ code: 'unknown', message: `no token for ${scope}`, retryable: true });
      return t.token;
    });
  }

  async function getJson(url: string, operation: string, signal?: AbortSignal): Promise<unknown> {
    const ctx = { operation };
    const bearer = await token(operation, signal);
    const res = await httpJson(
      url,
      {
        headers: { authorization: `Bearer ${bearer}` },
        ...(signal ? { signal } : {}),
        ...(opts.limit ? { limit: opts.limit } : {}),
      },
      ctx,
    );
    return res.body;
  }

  async function getSite(environmentId: string, websiteId: string, signal?: AbortSignal): Promise<SiteInfo> {
    const url = `${base}/powerpages/environments/${encodeURIComponent(environmentId)}/websites/${encodeURIComponent(websiteId)}?api-version=${POWER_PAGES_API_VERSION}`;
    try {
      const dto = (await getJson(url, `Power Platform: reading website ${websiteId}`, signal)) as WebsiteDto;
      return toSiteInfo(dto, environmentId, opts.siteUrls);
    } catch (err) {
      const configured = opts.siteUrls?.get(websiteId);
      if (!(err instanceof AdapterError) || err.detail.code !== 'forbidden' || !configured) throw err;
      // The API refused certrotate's sign-in; the configured URL still lets health be judged by the site itself.
      opts.logger?.debug({ websiteId }, 'websites API refused the sign-in; using the configured siteUrl');
      return { websiteId, environmentId, name: '', url: configured, appId: '', status: 'unknown', source: 'config' };
    }
  }

  return {
    getSite: (env, id, o) => getSite(env, id, o?.signal),

    async siteHealthy(env, id, o) {
      const site = await getSite(env, id, o?.signal);
      // A site the platform reports restarting or stopped is not healthy whatever its URL says; from the
      // configuration the status is unknown and the URL alone decides.
      if ((site.source === 'api' && site.status !== 'running') || !site.url) return false;
      try {
        const res = await httpRequest(
          site.url,
          { headers: { accept: 'text/html' }, timeoutMs: 15_000, ...(o?.signal ? { signal: o.signal } : {}) },
          { operation: `site ${site.url}` },
        );
        opts.logger?.debug({ websiteId: id, status: res.status }, 'site answered');
        return res.status >= 200 && res.status < 400;
      } catch (err) {
        // A site that does not answer is not healthy; only the caller's own abort is an error here.
        if (err instanceof AdapterError && err.detail.code === 'aborted') throw err;
        return false;
      }
    },

    async listSites(env, o) {
      const sites: SiteInfo[] = [];
      let url: string | undefined =
        `${base}/powerpages/environments/${encodeURIComponent(env)}/websites?api-version=${POWER_PAGES_API_VERSION}`;
      for (let page = 0; url && page < MAX_PAGES; page++) {
        const body = (await getJson(url, `Power Platform: listing websites of environment ${env}`, o?.signal)) as {
          value?: WebsiteDto[];
          '@odata.nextLink'?: string;
        };
        sites.push(...(body.value ?? []).map((dto) => toSiteInfo(dto, env, opts.siteUrls)));
        url = body['@odata.nextLink'];
      }
      return sites;
    },
  };
}
