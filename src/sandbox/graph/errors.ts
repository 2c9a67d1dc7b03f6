/**
 * Graph's error shape: `{error: {code, message, innerError: {date, request-id, client-request-id}}}` on every
 * failure, including unknown paths and fastify's own errors, with `request-id` and the caller's `client-request-id`
 * echoed as headers.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxClock } from '../clock.js';

/** A Graph failure: status, Graph error code, message and extra headers (Retry-After and the throttle headers). */
export class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Graph's error body; `innerError.date` carries no time zone, as real responses do. */
export function graphErrorBody(code: string, message: string, nowMs: number, clientRequestId?: string) {
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, ''),
        'request-id': randomUUID(),
        'client-request-id': clientRequestId ?? randomUUID(),
      },
    },
  };
}

/** Sends `err` in Graph's shape, echoing the request's `client-request-id` in the body. */
export function sendGraphError(clock: SandboxClock, reply: FastifyReply, req: FastifyRequest, err: GraphHttpError) {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  const crid = req.headers['client-request-id'];
  return reply
    .code(err.status)
    .type('application/json')
    .send(graphErrorBody(err.code, err.message, clock.now(), typeof crid === 'string' ? crid : undefined));
}

/** Unknown paths, fastify's own errors and the request-id headers, all as Graph answers them. */
export function installGraphErrorHandling(app: FastifyInstance, clock: SandboxClock): void {
  app.setNotFoundHandler((req, reply) =>
    sendGraphError(
      clock,
      reply,
      req,
      new GraphHttpError(400, 'BadRequest', `Invalid version or segment: '${req.url.split('?')[0] ?? ''}'.`),
    ),
  );
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return sendGraphError(
      clock,
      reply,
      req,
      new GraphHttpError(status, status === 500 ? 'generalException' : 'BadRequest', err.message),
    );
  });
  app.addHook('onRequest', async (req, reply) => {
    const crid = req.headers['client-request-id'];
    reply.header('request-id', randomUUID());
    if (typeof crid === 'string') reply.header('client-request-id', crid);
  });
}
