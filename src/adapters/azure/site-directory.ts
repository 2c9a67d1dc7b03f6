/**
 * The {@link SiteDirectory} port: Power Pages websites from the Power Platform API (read with certrotate's own
 * credential), and whether a site's URL answers.
 */
import type { TokenCredential } from '@azure/identity';
import type { Logger } from 'pino';
import { AdapterError, type SiteDirectory, type SiteInfo } from '../ports.js';
import { classified } from './errors.js';
import { httpJson, httpRequest } from './http.js';

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
}

interface WebsiteDto {
  id: string;
  name?: string;
  websiteUrl?: string;
  environmentId?: string;
  applicationUserAadAppId?: string;
  status?: string;
}

/** A {@link SiteDirectory} over the Power Platform API. */
export function createSiteDirectory(opts: SiteDirectoryOptions): SiteDirectory {
  const base = opts.powerPlatformUrl.replace(/\/+$/, '');
  const scope = `${base}/.default`;

  async function getSite(environmentId: string, websiteId: string, signal?: AbortSignal): Promise<SiteInfo> {
    const ctx = { operation: `Power Platform: reading website ${websiteId}` };
    const token = await classified(ctx, async () => {
      const t = await opts.credential.getToken(scope, signal ? { abortSignal: signal } : {});
      if (!t) throw new AdapterError({ code: 'unknown', message: `no token for ${scope}`, retryable: true });
      return t.token;
    });
    const url = `${base}/powerpages/environments/${encodeURIComponent(environmentId)}/websites/${encodeURIComponent(websiteId)}?api-version=${POWER_PAGES_API_VERSION}`;
    const res = await httpJson(
      url,
      { headers: { authorization: `Bearer ${token}` }, ...(signal ? { signal } : {}) },
      ctx,
    );
    const dto = res.body as WebsiteDto;
    return {
      websiteId: dto.id,
      environmentId: dto.environmentId ?? environmentId,
      name: dto.name ?? '',
      url: opts.siteUrls?.get(websiteId) ?? dto.websiteUrl ?? '',
      appId: dto.applicationUserAadAppId ?? '',
      // Lowercased so that callers compare with `running` whatever casing the platform uses (it sends `Running`).
      status: (dto.status ?? 'unknown').toLowerCase(),
    };
  }

  return {
    getSite: (env, id, o) => getSite(env, id, o?.signal),
    async siteHealthy(env, id, o) {
      const site = await getSite(env, id, o?.signal);
      if (site.status !== 'running' || !site.url) return false;
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
  };
}
