/** The {@link DataverseProbe} port: `WhoAmI` with a token, proving Dataverse maps the app to an application user. */
import { AdapterError, type DataverseProbe } from '../ports.js';
import { httpJson, type HttpLimit } from './http.js';

/** Options of {@link createDataverseProbe}. */
export interface DataverseProbeOptions {
  /** The shared limiter: WhoAmI spends its org's Dataverse budget, and a 429 is waited out (see http.ts). */
  limit?: HttpLimit;
}

/** A {@link DataverseProbe} over global fetch. */
export function createDataverseProbe(opts: DataverseProbeOptions = {}): DataverseProbe {
  return {
    async whoAmI(dataverseUrl, token, o) {
      const base = dataverseUrl.replace(/\/+$/, '');
      let res;
      try {
        res = await httpJson(
          `${base}/api/data/v9.2/WhoAmI`,
          {
            headers: { authorization: `Bearer ${token.token}`, 'odata-version': '4.0', 'odata-maxversion': '4.0' },
            ...(o?.signal ? { signal: o.signal } : {}),
            ...(opts.limit ? { limit: opts.limit } : {}),
          },
          { operation: `Dataverse WhoAmI at ${base}` },
        );
      } catch (err) {
        if (err instanceof AdapterError && err.detail.code === 'forbidden' && err.detail.status === 403) {
          throw new AdapterError({
            ...err.detail,
            message: `${err.detail.message} Add the app as an application user of this environment (Power Platform admin center → S2S apps).`,
          });
        }
        throw err;
      }
      const body = res.body as { UserId?: string; BusinessUnitId?: string; OrganizationId?: string } | undefined;
      if (!body?.UserId || !body.BusinessUnitId || !body.OrganizationId) {
        throw new AdapterError({
          code: 'unknown',
          message: `Dataverse WhoAmI at ${base} answered without ids`,
          retryable: false,
        });
      }
      return { userId: body.UserId, businessUnitId: body.BusinessUnitId, organizationId: body.OrganizationId };
    },
  };
}
