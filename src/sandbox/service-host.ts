/**
 * One HTTPS fastify instance per service, vault, app server and site, all on 127.0.0.1 with the sandbox's
 * server certificate, each instrumented (faults, latency, request log).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { SandboxTls } from './pki.js';
import type { FaultBody, Instrumentation } from './instrumentation.js';

export interface ServiceHost {
  app: FastifyInstance;
  /** `https://127.0.0.1:PORT`, known once `listen` resolved. */
  url: string;
  listen(): Promise<string>;
}

export interface HostOptions {
  tls: SandboxTls;
  instrumentation: Instrumentation | undefined;
  kind: string;
  name: string;
  faultBody: FaultBody;
  /** pino level for fastify's logger; quiet unless asked. */
  logLevel?: string;
  port?: number;
}

/** Creates a service instance; register routes on `app`, then `listen()`. */
export function createServiceHost(opts: HostOptions): ServiceHost {
  const app = Fastify({
    https: { key: opts.tls.keyPem, cert: opts.tls.certPem },
    logger: { level: opts.logLevel ?? 'silent' },
    forceCloseConnections: true,
  });
  void app.register(formbody);
  if (opts.instrumentation) opts.instrumentation.instrument(app, opts);
  const host: ServiceHost = {
    app,
    url: '',
    async listen() {
      await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      host.url = `https://127.0.0.1:${port}`;
      return host.url;
    },
  };
  return host;
}
