/**
 * The {@link AppOwnership} port over Graph: whether certrotate's own identity may PATCH an app's key credentials.
 * power-pages preflight asks before an admin presses Update key, so a run never leaves a site on a new key with an
 * old one nobody may remove. Read-only.
 */
import type { TokenCredential } from '@azure/identity';
import { AdapterError, type AppAccess, type AppOwnership } from '../ports.js';
import { classified } from './errors.js';
import { httpJson, type HttpLimit } from './http.js';

/** Options of {@link createAppOwnership}. */
export interface AppOwnershipOptions {
  /** `cloud.graphUrl`. */
  graphUrl: string;
  credential: TokenCredential;
  /** The shared limiter and the caller, for Graph's per app+tenant budget (see http.ts). */
  limit?: HttpLimit;
}

/** Permissions that let any caller PATCH any app (application `roles` or delegated `scp`). */
const DIRECTORY_WIDE = ['Application.ReadWrite.All', 'Directory.ReadWrite.All'];
/** Permissions that let an owner PATCH the apps it owns. */
const OWNED_BY = ['Application.ReadWrite.OwnedBy'];

/** An {@link AppOwnership} over Graph `applications/{id}/owners` and the caller's own access token. */
export function createAppOwnership(opts: AppOwnershipOptions): AppOwnership {
  const graph = opts.graphUrl.replace(/\/+$/, '');
  const scope = `${graph}/.default`;
  return {
    async callerAccess(appId, o): Promise<AppAccess> {
      const operation = `Graph: reading the owners of app ${appId}`;
      const signal = o?.signal;
      const token = await classified({ operation }, async () => {
        const t = await opts.credential.getToken(scope, signal ? { abortSignal: signal } : {});
        if (!t) throw new AdapterError({ code: 'unknown', message: `no token for ${scope}`, retryable: true });
        return t.token;
      });
      // The caller's own token says who it is and what it was granted; it is read here and dropped (I4).
      // jose is loaded here, not with this module: scan builds this adapter before its first request.
      const { decodeJwt } = await import('jose');
      const claims = decodeJwt(token) as { oid?: string; roles?: string[]; scp?: string };
      const granted = new Set([...(claims.roles ?? []), ...(claims.scp?.split(' ') ?? [])]);
      const get = async (url: string) =>
        (
          await httpJson(
            url,
            {
              headers: { authorization: `Bearer ${token}` },
              ...(signal ? { signal } : {}),
              ...(opts.limit ? { limit: opts.limit } : {}),
            },
            { operation },
          )
        ).body as { id?: string; value?: { id: string }[]; '@odata.nextLink'?: string };

      const app = await get(`${graph}/v1.0/applications(appId='${encodeURIComponent(appId)}')?$select=id`);
      const owners: string[] = [];
      let next: string | undefined = `${graph}/v1.0/applications/${app.id ?? ''}/owners?$select=id`;
      for (let page = 0; next && page < 100; page++) {
        const body = await get(next);
        owners.push(...(body.value ?? []).map((v) => v.id));
        next = body['@odata.nextLink'];
      }
      const owner = claims.oid !== undefined && owners.includes(claims.oid);
      const wide = DIRECTORY_WIDE.find((p) => granted.has(p));
      const ownedBy = OWNED_BY.find((p) => granted.has(p));
      if (wide) return { owner, canWrite: true, detail: `granted ${wide}` };
      if (owner && ownedBy) return { owner, canWrite: true, detail: `an owner of the app, granted ${ownedBy}` };
      // A user who owns the app may edit it in the portal without any Graph permission; a token without one cannot.
      if (owner)
        return { owner, canWrite: false, detail: 'an owner of the app, but granted no Graph write permission' };
      return {
        owner,
        canWrite: false,
        detail: `not an owner of the app${ownedBy ? ` (granted only ${ownedBy})` : ''} and granted no Application.ReadWrite.All`,
      };
    },
  };
}
