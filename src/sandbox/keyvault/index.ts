/**
 * The sandbox's Azure Key Vault (certificates and their linked secrets), faithful enough on the wire that the
 * unmodified `@azure/keyvault-certificates` and `@azure/keyvault-secrets` clients work against it over HTTPS.
 * One fastify instance (one host:port) per vault, because the SDK requires ids at the URL root.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';
import { KeyVaultError } from './errors.js';
import { installGuards } from './auth-challenge.js';
import { importVersion } from './certificate-lifecycle.js';
import type { VaultContext } from './context.js';
import type { KeyVaultCaller, KeyVaultService, KeyVaultServiceOptions } from './options.js';
import { registerCertificateRoutes } from './routes-certificates.js';
import { registerContactRoutes } from './routes-contacts.js';
import { registerDeletedRoutes } from './routes-deleted.js';
import { registerPendingRoutes } from './routes-pending.js';
import { registerSecretRoutes } from './routes-secrets.js';
import { recoverySettings } from './soft-delete.js';
import { VaultStore } from './store.js';
import { WriteBudget } from './throttle.js';

export type {
  ImportedCertificateMaterial,
  KeyVaultCaller,
  KeyVaultService,
  KeyVaultServiceOptions,
  VaultState,
} from './options.js';
export { KeyVaultError } from './errors.js';

/** Creates one vault. Nothing listens until `register` is called on a fastify instance that the caller starts. */
export function createKeyVaultService(opts: KeyVaultServiceOptions): KeyVaultService {
  let baseUrl = '';
  const ctx: VaultContext = {
    opts,
    store: new VaultStore(() => opts.now()),
    budget: new WriteBudget(() => opts.now(), opts.writeBudgetPer10s, {
      vault: opts.name,
      ...(opts.certificateCreatesPer10s ? { createsPer10s: opts.certificateCreatesPer10s } : {}),
      ...(opts.budgets ? { registry: opts.budgets } : {}),
    }),
    recovery: recoverySettings(opts),
    baseUrl: () => baseUrl,
    callers: new WeakMap<object, KeyVaultCaller>() as VaultContext['callers'],
  };

  return {
    register(app: FastifyInstance): void {
      // Key Vault reads JSON leniently: a body-less request may still say `application/json` (the SDK does so on
      // its challenge request), and malformed JSON is a 400 BadParameter, not fastify's own error shape.
      app.removeContentTypeParser(['application/json']);
      app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
        const text = typeof body === 'string' ? body : body.toString('utf8');
        if (text.trim() === '') return done(null, undefined);
        try {
          done(null, JSON.parse(text));
        } catch {
          done(new KeyVaultError(400, 'BadParameter', 'The request body is not valid JSON.'), undefined);
        }
      });

      app.addHook('onSend', async (request, reply, payload) => {
        reply.header('x-ms-request-id', randomUUID());
        const clientRequestId = request.headers['x-ms-client-request-id'];
        if (typeof clientRequestId === 'string') reply.header('x-ms-client-request-id', clientRequestId);
        reply.header('x-ms-keyvault-network-info', `conn_type=Ipv4;addr=${request.ip};act_addr_fam=InterNetwork;`);
        return payload;
      });

      app.setErrorHandler((error: FastifyError | KeyVaultError, _request, reply) => {
        const kvError =
          error instanceof KeyVaultError
            ? error
            : error.statusCode && error.statusCode < 500
              ? new KeyVaultError(error.statusCode, 'BadParameter', error.message)
              : new KeyVaultError(500, 'InternalServerError', 'The vault could not process the request.');
        if (kvError.statusCode >= 500) reply.log.error({ err: error }, 'key vault request failed');
        return reply.code(kvError.statusCode).headers(kvError.headers).send(kvError.toBody());
      });

      app.setNotFoundHandler((request, reply) => {
        return reply
          .code(404)
          .send(
            new KeyVaultError(
              404,
              'NotFound',
              `The requested path ${request.url.split('?')[0]} is not a Key Vault operation.`,
            ).toBody(),
          );
      });

      installGuards(app, ctx);
      registerPendingRoutes(app, ctx);
      registerContactRoutes(app, ctx);
      registerCertificateRoutes(app, ctx);
      registerSecretRoutes(app, ctx);
      registerDeletedRoutes(app, ctx);
    },

    setBaseUrl(url: string): void {
      baseUrl = url.replace(/\/+$/, '');
    },

    async importCertificate(name, material) {
      const { version, thumbprint } = importVersion(ctx, name, {
        certDer: material.certDer,
        privateKeyPkcs8: material.privateKeyPkcs8,
        contentType: material.contentType,
        enabled: material.enabled,
        tags: material.tags,
      });
      return { version, thumbprint };
    },

    state() {
      return ctx.store.state(baseUrl);
    },
  };
}
