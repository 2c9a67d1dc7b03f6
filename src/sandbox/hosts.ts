/**
 * The set of HTTPS listeners one sandbox runs (a service host per service, vault, app server and site), with the
 * body each kind of service answers an injected fault with, and closing them all on stop.
 */
import type { SandboxClock } from './clock.js';
import { aadstsBody } from './entra.js';
import { graphErrorBody } from './graph/index.js';
import type { FaultBody, Instrumentation } from './instrumentation.js';
import type { SandboxTls } from './pki.js';
import { createServiceHost, type ServiceHost } from './service-host.js';

export interface HostSet {
  /** Creates a host (not yet listening); `instrumented: false` keeps it out of the request log and fault rules. */
  add(kind: string, name: string, faultBody: FaultBody, instrumented?: boolean): ServiceHost;
  /** Closes every host; with `settled`, one failing close does not stop the others. */
  closeAll(settled?: boolean): Promise<void>;
}

export function createHostSet(opts: {
  tls: SandboxTls;
  instrumentation: Instrumentation;
  logLevel?: string | undefined;
}): HostSet {
  const hosts: ServiceHost[] = [];
  return {
    add(kind, name, faultBody, instrumented = true) {
      const h = createServiceHost({
        tls: opts.tls,
        instrumentation: instrumented ? opts.instrumentation : undefined,
        kind,
        name,
        faultBody,
        ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
      });
      hosts.push(h);
      return h;
    },
    async closeAll(settled = false) {
      const closing = hosts.map((h) => h.app.close());
      if (settled) await Promise.allSettled(closing);
      else await Promise.all(closing);
    },
  };
}

/** The fault body of services with no error shape of their own to imitate. */
export const genericFault: FaultBody = (status, message) => ({ error: { code: `Http${status}`, message } });

/** Entra's: an AADSTS body (50196 throttled, 90033 transient). */
export const entraFault =
  (clock: SandboxClock): FaultBody =>
  (status, message) =>
    aadstsBody(
      status === 429 ? 50196 : 90033,
      status === 429 ? 'temporarily_unavailable' : 'server_error',
      message,
      clock.now(),
    );

/** The code a service's error body carries for an injected status: its own code for that status, else `fallback`. */
function codeFor(codes: Readonly<Record<number, string>>, status: number, fallback: string): string {
  return codes[status] ?? (status >= 500 ? fallback : `Http${status}`);
}

/** Graph's codes by status (reference/graph-entra.md §3.1); a 5xx is ServiceUnavailable. */
const GRAPH_CODES: Readonly<Record<number, string>> = {
  400: 'Request_BadRequest',
  401: 'InvalidAuthenticationToken',
  403: 'Authorization_RequestDenied',
  404: 'Request_ResourceNotFound',
  429: 'Request_ThrottledTemporarily',
};

/** Key Vault's codes by status (reference/keyvault.md); a 5xx is ServiceUnavailable. */
const VAULT_CODES: Readonly<Record<number, string>> = {
  400: 'BadParameter',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  429: 'Throttled',
};

/** Graph's: its error body with a zone-less innerError date, with the code Graph sends for that status. */
export const graphFault =
  (clock: SandboxClock): FaultBody =>
  (status, message) =>
    graphErrorBody(codeFor(GRAPH_CODES, status, 'ServiceUnavailable'), message, clock.now());

/** Key Vault's: `{error: {code, message}}` with the code Key Vault sends for that status. */
export const vaultFault: FaultBody = (status, message) => ({
  error: { code: codeFor(VAULT_CODES, status, 'ServiceUnavailable'), message },
});
