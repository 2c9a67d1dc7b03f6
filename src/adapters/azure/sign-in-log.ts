/**
 * The {@link SignInLog} port over Microsoft Graph's sign-in log. Service-principal sign-ins (an app signing in with
 * its own certificate) are listed by `GET /beta/auditLogs/signIns` with
 * `$filter=signInEventTypes/any(t: t eq 'servicePrincipal')`; each carries `servicePrincipalCredentialKeyId` and
 * `servicePrincipalCredentialThumbprint`. Microsoft documents that filter and those fields on the beta signIn
 * resource only (whether v1.0 returns service-principal sign-ins is UNCONFIRMED), so this reads beta. Reading needs
 * AuditLog.Read.All and an Entra ID P1/P2 licence; without them Graph answers 403 and certrotate says so, relying on
 * the server's report alone. Read-only.
 */
import type { TokenCredential } from '@azure/identity';
import { AdapterError, toPortError, type KeySignIns, type SignInLog } from '../ports.js';
import { classified } from './errors.js';
import { httpJson, type HttpLimit } from './http.js';

/** Options of {@link createSignInLog}. */
export interface SignInLogOptions {
  /** `cloud.graphUrl`. */
  graphUrl: string;
  credential: TokenCredential;
  /** Pages read before giving up on a busy log (default 20, of up to 1000 entries each). */
  maxPages?: number;
  /** The shared limiter and the caller, for Graph's per app+tenant budget (see http.ts). */
  limit?: HttpLimit;
}

/** One sign-in as the beta signIn resource has it (the fields read here). */
interface SignInJson {
  createdDateTime?: string;
  servicePrincipalCredentialKeyId?: string | null;
  servicePrincipalCredentialThumbprint?: string | null;
}

/** Why the log cannot be read, for the operator: the permission and the licence it needs. */
export const SIGN_IN_LOG_DENIED =
  "certrotate's identity may not read Entra's sign-in logs (it needs AuditLog.Read.All and an Entra ID P1 or P2 " +
  'licence)';

/** A {@link SignInLog} over Graph beta `auditLogs/signIns`. */
export function createSignInLog(opts: SignInLogOptions): SignInLog {
  const graph = opts.graphUrl.replace(/\/+$/, '');
  const scope = `${graph}/.default`;
  const maxPages = opts.maxPages ?? 20;
  return {
    async lastSignInWithKey(appId, key, since, o): Promise<KeySignIns> {
      const operation = `Graph: reading the sign-in log of app ${appId}`;
      const signal = o?.signal;
      const token = await classified({ operation }, async () => {
        const t = await opts.credential.getToken(scope, signal ? { abortSignal: signal } : {});
        if (!t) throw new AdapterError({ code: 'unknown', message: `no token for ${scope}`, retryable: true });
        return t.token;
      });
      const filter =
        `appId eq '${appId.replace(/'/g, "''")}' and signInEventTypes/any(t: t eq 'servicePrincipal') ` +
        `and createdDateTime ge ${since}`;
      const params = new URLSearchParams({ $filter: filter, $orderby: 'createdDateTime desc', $top: '1000' });
      let next: string | undefined = `${graph}/beta/auditLogs/signIns?${params.toString()}`;
      const keyId = key.keyId.toLowerCase();
      const thumbprint = key.thumbprint.toUpperCase();
      for (let page = 0; next; page++) {
        if (page >= maxPages) {
          return { readable: false, reason: `the sign-in log holds more than ${maxPages} pages since ${since}` };
        }
        let body: { value?: SignInJson[]; '@odata.nextLink'?: string };
        try {
          const url: string = next;
          body = (
            await httpJson(
              url,
              {
                headers: { authorization: `Bearer ${token}` },
                ...(signal ? { signal } : {}),
                ...(opts.limit ? { limit: opts.limit } : {}),
              },
              { operation },
            )
          ).body as typeof body;
        } catch (err) {
          // 403: no AuditLog.Read.All, or a tenant without the licence the sign-in logs need.
          if (toPortError(err).code === 'forbidden') return { readable: false, reason: SIGN_IN_LOG_DENIED };
          throw err;
        }
        // Newest first ($orderby), so the first match is the last sign-in with the key.
        const hit = (body.value ?? []).find(
          (s) =>
            s.servicePrincipalCredentialKeyId?.toLowerCase() === keyId ||
            s.servicePrincipalCredentialThumbprint?.toUpperCase() === thumbprint,
        );
        if (hit) return { readable: true, lastSignIn: hit.createdDateTime ?? since };
        next = body['@odata.nextLink'];
      }
      return { readable: true };
    },
  };
}
