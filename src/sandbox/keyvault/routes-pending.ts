/**
 * The pending create operation: GET (what the SDK poller reads), PATCH `{cancellation_requested: true}`, DELETE.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { KeyVaultError, pendingNotFound } from './errors.js';
import { queryParam, vaultUrlOf, type KeyVaultRouteConfig, type VaultContext } from './context.js';
import { parseBody, requireCertificate } from './routes-certificates.js';
import { operationBody } from './wire.js';
import type { CertificateRecord, PendingOperation } from './store.js';

type Params = { name: string };

const cancelBodySchema = z.looseObject({ cancellation_requested: z.boolean() });

function route(operation: string): { config: KeyVaultRouteConfig } {
  return { config: { operation } };
}

/** The operation, honouring a `request_id` filter (a mismatch is a 404, as in Azure). */
function requirePending(request: FastifyRequest<{ Params: Params }>, record: CertificateRecord): PendingOperation {
  const op = record.pending;
  const requestId = queryParam(request, 'request_id');
  if (!op || (requestId !== undefined && requestId !== op.requestId)) throw pendingNotFound(record.name);
  return op;
}

export function registerPendingRoutes(app: FastifyInstance, ctx: VaultContext): void {
  app.get<{ Params: Params }>('/certificates/:name/pending', route('certificates/get'), async (request) => {
    const record = requireCertificate(ctx, request.params.name);
    return operationBody(vaultUrlOf(ctx, request), record, requirePending(request, record));
  });

  app.patch<{ Params: Params }>('/certificates/:name/pending', route('certificates/update'), async (request) => {
    const record = requireCertificate(ctx, request.params.name);
    const op = requirePending(request, record);
    const body = parseBody(cancelBodySchema, request.body);
    if (body.cancellation_requested) {
      if (op.status !== 'inProgress') {
        throw new KeyVaultError(
          400,
          'BadParameter',
          `The pending operation of ${record.name} is ${op.status} and can no longer be cancelled.`,
        );
      }
      ctx.store.cancelPending(record);
    }
    return operationBody(vaultUrlOf(ctx, request), record, op);
  });

  app.delete<{ Params: Params }>('/certificates/:name/pending', route('certificates/delete'), async (request) => {
    const record = requireCertificate(ctx, request.params.name);
    requirePending(request, record);
    const op = ctx.store.deletePending(record)!;
    return operationBody(vaultUrlOf(ctx, request), record, op);
  });
}
