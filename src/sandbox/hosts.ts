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

/** Graph's: its error body with a zone-less innerError date. */
export const graphFault =
  (clock: SandboxClock): FaultBody =>
  (status, message) =>
    graphErrorBody(status === 429 ? 'Request_ThrottledTemporarily' : 'ServiceUnavailable', message, clock.now());

/** Key Vault's: `{error: {code, message}}` with Throttled or ServiceUnavailable. */
export const vaultFault: FaultBody = (status, message) => ({
  error: { code: status === 429 ? 'Throttled' : 'ServiceUnavailable', message },
});
