/**
 * Soft-deleted certificates and their secrets: list and get (`/deletedcertificates`, `/deletedsecrets`), recover, and
 * purge (refused under purge protection). A certificate's secret is deleted and recovered with the certificate; the
 * secrets API only shows it. Shapes: the spec examples GetDeletedCertificate(s), GetDeletedSecret(s).
 */
import type { FastifyInstance } from 'fastify';
import { deletedCertificateNotFound, deletedSecretNotFound, purgeProtected } from './errors.js';
import { wireOf, type KeyVaultRouteConfig, type VaultContext } from './context.js';
import { pageOf } from './paging.js';
import type { DeletedCertificateRecord } from './store.js';
import {
  certificateBundle,
  deletedCertificateBundle,
  deletedCertificateItem,
  deletedSecretBundle,
  deletedSecretItem,
} from './wire.js';

type Params = { name: string };

function route(operation: string): { config: KeyVaultRouteConfig } {
  return { config: { operation } };
}

export function registerDeletedRoutes(app: FastifyInstance, ctx: VaultContext): void {
  const requireDeleted = (name: string): DeletedCertificateRecord => {
    const deleted = ctx.store.getDeleted(name);
    if (!deleted) throw deletedCertificateNotFound(name);
    return deleted;
  };

  // `includePending` asks for deletions still in progress as well; deletion completes synchronously here, so every
  // deleted certificate is already listed without it.
  app.get('/deletedcertificates', route('certificates/list'), async (request) => {
    const w = wireOf(ctx, request);
    const items = ctx.store.listDeleted().map((d) => deletedCertificateItem(w, d));
    return pageOf(request, `${w.base}/deletedcertificates`, items);
  });

  app.get<{ Params: Params }>('/deletedcertificates/:name', route('certificates/get'), async (request) => {
    return deletedCertificateBundle(wireOf(ctx, request), requireDeleted(request.params.name));
  });

  // Recover puts back every version with its key, secret, tags and policy; the answer is the latest version's bundle.
  app.post<{ Params: Params }>('/deletedcertificates/:name/recover', route('certificates/recover'), async (request) => {
    requireDeleted(request.params.name);
    const record = ctx.store.recover(request.params.name)!;
    return certificateBundle(wireOf(ctx, request), record, record.versions.at(-1)!);
  });

  app.delete<{ Params: Params }>('/deletedcertificates/:name', route('certificates/purge'), async (request, reply) => {
    requireDeleted(request.params.name);
    if (ctx.recovery.purgeProtection) throw purgeProtected(ctx.opts.name);
    ctx.store.purge(request.params.name);
    return reply.code(204).send();
  });

  app.get('/deletedsecrets', route('secrets/list'), async (request) => {
    const w = wireOf(ctx, request);
    const items = ctx.store.listDeleted().map((d) => deletedSecretItem(w, d));
    return pageOf(request, `${w.base}/deletedsecrets`, items);
  });

  app.get<{ Params: Params }>('/deletedsecrets/:name', route('secrets/get'), async (request) => {
    const deleted = ctx.store.getDeleted(request.params.name);
    if (!deleted) throw deletedSecretNotFound(request.params.name);
    return deletedSecretBundle(wireOf(ctx, request), deleted);
  });
}
