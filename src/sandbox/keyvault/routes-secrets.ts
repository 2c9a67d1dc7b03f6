/**
 * The secrets linked to certificates (`managed: true`): the private key and certificate of a version, as PEM or
 * PKCS#12 per the content type fixed when the version was made, or as PEM on request (`outContentType`, which the
 * secrets SDK 4.11+ sends). Plain secrets are not part of this vault. `GET /secrets/{name}` without a version segment
 * is the latest version, as the REST reference makes the segment optional; `GET /secrets` lists every secret by its
 * latest version, paged (Get Secret, Get Secrets).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badParameter, secretDisabled, secretNotFound } from './errors.js';
import { queryParam, wireOf, type KeyVaultRouteConfig, type VaultContext } from './context.js';
import { pageOf } from './paging.js';
import { secretValue } from './secret-material.js';
import { secretBundle, secretItem } from './wire.js';
import type { SecretContentType } from './policy.js';

type Params = { name: string; version?: string };

const CONTENT_TYPES: SecretContentType[] = ['application/x-pem-file', 'application/x-pkcs12'];

function route(operation: string): { config: KeyVaultRouteConfig } {
  return { config: { operation } };
}

export function registerSecretRoutes(app: FastifyInstance, ctx: VaultContext): void {
  const getSecret = async (request: FastifyRequest<{ Params: Params }>) => {
    const { name, version } = request.params;
    const record = ctx.store.get(name);
    const v = version ? record?.versions.find((x) => x.version === version) : record?.versions.at(-1);
    if (!record || !v) throw secretNotFound(name, version);
    if (!v.enabled) throw secretDisabled();
    const requested = queryParam(request, 'outContentType');
    if (requested !== undefined && !CONTENT_TYPES.includes(requested as SecretContentType)) {
      throw badParameter(`outContentType ${requested} is not supported; use one of ${CONTENT_TYPES.join(', ')}.`);
    }
    const contentType = (requested as SecretContentType | undefined) ?? v.contentType;
    const privateKeyPkcs8 = v.exportable ? ctx.store.privateKeyOf(name, v.version) : undefined;
    const value = secretValue({ certDer: v.certDer, ...(privateKeyPkcs8 ? { privateKeyPkcs8 } : {}) }, contentType);
    return secretBundle(wireOf(ctx, request), name, v, value, contentType);
  };

  app.get('/secrets', route('secrets/list'), async (request) => {
    const w = wireOf(ctx, request);
    // A certificate whose first version is still being created has no secret yet.
    const items = ctx.store
      .list()
      .flatMap((r) => (r.versions.length > 0 ? [secretItem(w, r.name, r.versions.at(-1)!, false)] : []));
    return pageOf(request, `${w.base}/secrets`, items);
  });

  app.get<{ Params: Params }>('/secrets/:name/versions', route('secrets/list'), async (request) => {
    const record = ctx.store.get(request.params.name);
    if (!record || record.versions.length === 0) throw secretNotFound(request.params.name);
    const w = wireOf(ctx, request);
    return pageOf(
      request,
      `${w.base}/secrets/${record.name}/versions`,
      record.versions.map((v) => secretItem(w, record.name, v)),
    );
  });
  app.get<{ Params: Params }>('/secrets/:name', route('secrets/get'), getSecret);
  app.get<{ Params: Params }>('/secrets/:name/', route('secrets/get'), getSecret);
  app.get<{ Params: Params }>('/secrets/:name/:version', route('secrets/get'), getSecret);
}
