/**
 * Certificate routes: create, import, get latest / by version, update attributes and tags, versions, list, policy,
 * delete (soft by default). Paths and expected statuses are those of `@azure/keyvault-certificates` 4.10
 * (reference/keyvault.md §2); `GET /certificates/{name}` without a version segment is the latest version, as the
 * REST reference makes the segment optional (Get Certificate: "This URI fragment is optional").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badParameter, certificateNotFound } from './errors.js';
import { completePolicy, parsePolicyInput, type SecretContentType } from './policy.js';
import { assertCertificateName, importVersion, startCreate } from './certificate-lifecycle.js';
import { nowSeconds, queryParam, vaultUrlOf, wireOf, type KeyVaultRouteConfig, type VaultContext } from './context.js';
import { pageOf } from './paging.js';
import { parseImportedMaterial } from './secret-material.js';
import { scheduledPurgeDate } from './soft-delete.js';
import {
  certificateBundle,
  certificateItem,
  deletedCertificateBundle,
  operationBody,
  pendingBundle,
  policyBody,
} from './wire.js';
import type { CertificateRecord, CertificateVersionRecord } from './store.js';

type Params = { name: string; version?: string };

const tagsSchema = z.record(z.string(), z.string());
const createBodySchema = z.looseObject({
  policy: z.unknown().optional(),
  attributes: z.looseObject({ enabled: z.boolean().optional() }).optional(),
  tags: tagsSchema.optional(),
});
const importBodySchema = z.looseObject({
  value: z.string(),
  pwd: z.string().optional(),
  policy: z.unknown().optional(),
  attributes: z.looseObject({ enabled: z.boolean().optional() }).optional(),
  tags: tagsSchema.optional(),
});
const updateBodySchema = z.looseObject({
  attributes: z
    .looseObject({ enabled: z.boolean().optional(), nbf: z.number().optional(), exp: z.number().optional() })
    .optional(),
  tags: tagsSchema.optional(),
  policy: z.unknown().optional(),
});

/** Parses a JSON body with `schema`, answering 400 `BadParameter` (never a crash) for anything else. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badParameter(`Invalid request body: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'malformed'}`);
  }
  return parsed.data;
}

function route(operation: string): { config: KeyVaultRouteConfig } {
  return { config: { operation } };
}

/** The certificate or 404 `CertificateNotFound`. */
export function requireCertificate(ctx: VaultContext, name: string): CertificateRecord {
  const record = ctx.store.get(name);
  if (!record) throw certificateNotFound(name);
  return record;
}

function findVersion(record: CertificateRecord, version: string | undefined): CertificateVersionRecord | undefined {
  // An empty version (trailing slash) means the most recently created one, disabled or not.
  return version ? record.versions.find((v) => v.version === version) : record.versions.at(-1);
}

export function registerCertificateRoutes(app: FastifyInstance, ctx: VaultContext): void {
  app.post<{ Params: Params }>('/certificates/:name/create', route('certificates/create'), async (request, reply) => {
    const body = parseBody(createBodySchema, request.body);
    const record = await startCreate(ctx, request.params.name, {
      policy: parsePolicyInput(body.policy),
      enabled: body.attributes?.enabled,
      tags: body.tags,
    });
    const base = vaultUrlOf(ctx, request);
    const op = record.pending!;
    const apiVersion = queryParam(request, 'api-version') ?? '';
    return reply
      .code(202)
      .header(
        'location',
        `${base}/certificates/${record.name}/pending?api-version=${encodeURIComponent(apiVersion)}&request_id=${op.requestId}`,
      )
      .header('retry-after', '10')
      .send(operationBody(base, record, op));
  });

  app.post<{ Params: Params }>('/certificates/:name/import', route('certificates/import'), async (request) => {
    const body = parseBody(importBodySchema, request.body);
    const policyInput = body.policy === undefined ? undefined : parsePolicyInput(body.policy);
    const existing = ctx.store.get(request.params.name);
    const contentType = (policyInput?.secret_props?.contentType ??
      existing?.policy.secret_props.contentType ??
      'application/x-pkcs12') as SecretContentType;
    const material = parseImportedMaterial(body.value, contentType, body.pwd ?? '');
    const { record, version } = importVersion(ctx, request.params.name, {
      ...material,
      policy: policyInput,
      enabled: body.attributes?.enabled,
      tags: body.tags,
    });
    return certificateBundle(wireOf(ctx, request), record, findVersion(record, version)!);
  });

  app.get('/certificates', route('certificates/list'), async (request) => {
    const w = wireOf(ctx, request);
    const includePending = queryParam(request, 'includePending') === 'true';
    const items = ctx.store.list().flatMap((r) => {
      const latest = r.versions.at(-1);
      if (latest) return [certificateItem(w, r.name, latest, false)];
      if (includePending && r.pending) {
        const created = Math.floor(r.pending.completesAt / 1000);
        return [
          { id: `${w.base}/certificates/${r.name}`, attributes: pendingBundle(w, r, r.pending, created).attributes },
        ];
      }
      return [];
    });
    return pageOf(request, `${w.base}/certificates`, items, includePending ? { includePending: 'true' } : {});
  });

  app.get<{ Params: Params }>('/certificates/:name/versions', route('certificates/list'), async (request) => {
    const record = requireCertificate(ctx, request.params.name);
    const w = wireOf(ctx, request);
    const items = record.versions.map((v) => certificateItem(w, record.name, v, true));
    return pageOf(request, `${w.base}/certificates/${record.name}/versions`, items);
  });

  app.get<{ Params: Params }>('/certificates/:name/policy', route('certificates/get'), async (request) => {
    const record = requireCertificate(ctx, request.params.name);
    return policyBody(vaultUrlOf(ctx, request), record.name, record.policy);
  });

  app.patch<{ Params: Params }>('/certificates/:name/policy', route('certificates/update'), async (request) => {
    const record = requireCertificate(ctx, request.params.name);
    record.policy = completePolicy(parsePolicyInput(request.body), nowSeconds(ctx), record.policy);
    return policyBody(vaultUrlOf(ctx, request), record.name, record.policy);
  });

  const getBundle = async (request: FastifyRequest<{ Params: Params }>) => {
    const record = requireCertificate(ctx, request.params.name);
    const w = wireOf(ctx, request);
    const v = findVersion(record, request.params.version);
    if (v) return certificateBundle(w, record, v);
    // A first version still being created (or whose create was cancelled): the pending bundle keeps
    // getCertificateOperation pollers working, which read latest before the operation.
    if (!request.params.version && record.pending) {
      return pendingBundle(w, record, record.pending, Math.floor(record.pending.completesAt / 1000));
    }
    throw certificateNotFound(request.params.version ? `${record.name}/${request.params.version}` : record.name);
  };
  app.get<{ Params: Params }>('/certificates/:name', route('certificates/get'), getBundle);
  app.get<{ Params: Params }>('/certificates/:name/', route('certificates/get'), getBundle);
  app.get<{ Params: Params }>('/certificates/:name/:version', route('certificates/get'), getBundle);

  const updateBundle = async (request: FastifyRequest<{ Params: Params }>) => {
    const record = requireCertificate(ctx, request.params.name);
    const v = findVersion(record, request.params.version);
    if (!v)
      throw certificateNotFound(request.params.version ? `${record.name}/${request.params.version}` : record.name);
    const body = parseBody(updateBodySchema, request.body);
    const policy =
      body.policy === undefined
        ? undefined
        : completePolicy(parsePolicyInput(body.policy), nowSeconds(ctx), record.policy);
    // Validate everything first, then apply: a rejected PATCH changes nothing.
    if (policy) record.policy = policy;
    if (body.attributes?.enabled !== undefined) v.enabled = body.attributes.enabled;
    if (body.tags !== undefined) v.tags = { ...body.tags };
    v.updated = nowSeconds(ctx);
    return certificateBundle(wireOf(ctx, request), record, v);
  };
  app.patch<{ Params: Params }>('/certificates/:name/', route('certificates/update'), updateBundle);
  app.patch<{ Params: Params }>('/certificates/:name/:version', route('certificates/update'), updateBundle);

  app.delete<{ Params: Params }>('/certificates/:name', route('certificates/delete'), async (request) => {
    assertCertificateName(request.params.name);
    const w = wireOf(ctx, request);
    const record = requireCertificate(ctx, request.params.name);
    const latest = record.versions.at(-1);
    if (ctx.recovery.softDelete && latest) {
      // Soft delete: the answer is the DeletedCertificateBundle, whose `recoveryId` makes the SDK's delete poller
      // wait for GET /deletedcertificates/{name} — which answers at once, as deletion completes here synchronously.
      const deletedDate = nowSeconds(ctx);
      const deleted = ctx.store.softDelete(record.name, deletedDate, scheduledPurgeDate(ctx.recovery, deletedDate))!;
      return deletedCertificateBundle(w, deleted);
    }
    // Without soft delete (or with no version to keep) the certificate is gone at once and the answer has no
    // `recoveryId`, so the SDK's delete poller completes without polling (reference §10.12).
    const bundle = latest ? certificateBundle(w, record, latest) : { id: `${w.base}/certificates/${record.name}` };
    ctx.store.delete(record.name);
    return bundle;
  });
}
