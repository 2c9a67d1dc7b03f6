/**
 * Server-side paging of directory collections as Graph does it: `$top` from 1 to 999 (else 400
 * Request_UnsupportedQuery), a default page of 100, and `@odata.nextLink` carrying the request's other query
 * options plus an opaque `$skiptoken` (Graph's paging.md; the out-of-range message is Graph's own).
 */
import type { FastifyRequest } from 'fastify';
import { GraphHttpError } from './errors.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 999;

/** One page of `items` for this request, and the link to the next page (absent on the last). */
export function pageOf<T>(req: FastifyRequest, baseUrl: string, items: T[]): { value: T[]; nextLink?: string } {
  const query = req.query as Record<string, string | undefined>;
  let size = DEFAULT_PAGE_SIZE;
  if (query.$top !== undefined) {
    size = /^\d+$/.test(query.$top) ? Number(query.$top) : Number.NaN;
    if (!(size >= 1 && size <= MAX_PAGE_SIZE)) {
      throw new GraphHttpError(
        400,
        'Request_UnsupportedQuery',
        `Invalid page size specified: '${query.$top}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`,
      );
    }
  }
  const offset = query.$skiptoken === undefined ? 0 : offsetOf(query.$skiptoken);
  const value = items.slice(offset, offset + size);
  if (offset + size >= items.length) return { value };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (k !== '$skiptoken' && typeof v === 'string') params.set(k, v);
  params.set('$skiptoken', skipToken(offset + size));
  const path = req.url.split('?')[0] ?? '';
  return { value, nextLink: `${baseUrl}${path}?${params.toString().replace(/%24/g, '$')}` };
}

// The token is opaque to clients; here it names the next offset. Graph's are long base64-ish strings.
const PREFIX = 'RFNwdAIAAQAAAD';
function skipToken(offset: number): string {
  return `${PREFIX}${Buffer.from(JSON.stringify({ o: offset })).toString('base64url')}`;
}
function offsetOf(token: string): number {
  try {
    if (!token.startsWith(PREFIX)) throw new Error('foreign');
    const o = (JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as { o?: unknown }).o;
    if (typeof o !== 'number' || !Number.isInteger(o) || o < 0) throw new Error('bad');
    return o;
  } catch {
    throw new GraphHttpError(400, 'Request_UnsupportedQuery', `'${token}' is not a valid skip token.`);
  }
}
