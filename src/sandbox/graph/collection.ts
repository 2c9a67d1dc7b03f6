/**
 * Reading a directory collection the way Graph does: `$select`/`$expand` parsed once, `$filter` (odata-filter.ts)
 * applied, then one page (paging.ts) with `@odata.context` and, when more remain, `@odata.nextLink`.
 */
import type { FastifyRequest } from 'fastify';
import { odataContext } from './context.js';
import { parseFilter, type FilterSchema } from './odata-filter.js';
import { pageOf } from './paging.js';

/** `$select` as a list of property names, undefined when absent. */
export function selectOf(req: FastifyRequest): string[] | undefined {
  const select = (req.query as Record<string, string | undefined>).$select;
  return select
    ? select
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

/** `$expand` as a list of navigation property names. */
export function expandOf(req: FastifyRequest): string[] {
  const expand = (req.query as Record<string, string | undefined>).$expand;
  return expand ? expand.split(',').map((s) => s.trim()) : [];
}

/** The base URL this client called (next links must lead back to the host it used). */
export function requestBaseUrl(req: FastifyRequest, configured: string): string {
  const host = req.headers.host;
  return host ? `https://${host}` : configured;
}

/** One page of a filtered collection, as Graph's response body. */
export function listCollection<T>(
  req: FastifyRequest,
  baseUrl: string,
  entitySet: string,
  items: T[],
  schema: FilterSchema<T>,
  toJson: (item: T) => Record<string, unknown>,
): Record<string, unknown> {
  const filter = (req.query as Record<string, string | undefined>).$filter;
  const matching = filter !== undefined ? items.filter(parseFilter(filter, schema)) : items;
  const select = selectOf(req);
  const page = pageOf(req, requestBaseUrl(req, baseUrl), matching);
  return {
    '@odata.context': odataContext(select ? `${entitySet}(${select.join(',')})` : entitySet),
    ...(page.nextLink ? { '@odata.nextLink': page.nextLink } : {}),
    value: page.value.map(toJson),
  };
}
