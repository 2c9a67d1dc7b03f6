/**
 * Key Vault list pages: `{value, nextLink}` with `maxresults` 1..25 (default 25) and an absolute `nextLink` that the
 * SDK fetches verbatim, so it keeps the api-version and points at the host the client used (reference §2, §10.14).
 */
import type { FastifyRequest } from 'fastify';
import { badParameter } from './errors.js';
import { queryParam } from './context.js';

const MAX_RESULTS = 25;

/** Slices `items` per the request's `maxresults` and `$skiptoken`, building the next page's link. */
export function pageOf<T>(
  request: FastifyRequest,
  pageUrl: string,
  items: T[],
  extraQuery: Record<string, string> = {},
): { value: T[]; nextLink: string | null } {
  const maxRaw = queryParam(request, 'maxresults');
  const max = maxRaw === undefined ? MAX_RESULTS : Number(maxRaw);
  if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    throw badParameter(`maxresults must be an integer within 1..${MAX_RESULTS}.`);
  }
  const skipRaw = queryParam(request, '$skiptoken');
  const decoded = skipRaw === undefined ? '0' : Buffer.from(skipRaw, 'base64url').toString('utf8');
  if (!/^\d{1,9}$/.test(decoded)) throw badParameter('The $skiptoken is invalid.');
  const skip = Number(decoded);
  const value = items.slice(skip, skip + max);
  if (skip + max >= items.length) return { value, nextLink: null };
  const next = new URLSearchParams({
    'api-version': queryParam(request, 'api-version') ?? '',
    ...extraQuery,
    $skiptoken: Buffer.from(String(skip + max), 'utf8').toString('base64url'),
    maxresults: String(max),
  });
  return { value, nextLink: `${pageUrl}?${next.toString()}` };
}
