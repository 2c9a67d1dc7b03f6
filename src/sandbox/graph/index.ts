/**
 * The sandbox's Microsoft Graph (v1.0 `applications` and `servicePrincipals`), faithful enough on the wire that
 * the unmodified `@microsoft/microsoft-graph-client` and raw REST clients work against it: auth and permissions
 * (auth.ts), the applications and servicePrincipals routes (routes-*.ts), `$filter` and paging (odata-filter.ts,
 * paging.ts), addKey/removeKey proofs (proofs.ts), write throttling (throttle.ts), Graph's error
 * shape (errors.ts) and, optionally, reads that lag writes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate } from './auth.js';
import type { GraphContext, GraphOptions } from './context.js';
import { GraphHttpError, installGraphErrorHandling, sendGraphError } from './errors.js';
import { getApplications, patchApplication, postApplicationAction } from './routes-applications.js';
import { getServicePrincipals } from './routes-service-principals.js';
import { getSignIns } from './sign-ins.js';
import { WriteBudget } from './throttle.js';
import type { AccessTokenClaims } from '../access-tokens.js';

export type { GraphOptions } from './context.js';
export { graphAppId, graphResource } from './context.js';
export { graphErrorBody } from './errors.js';

/** Registers Graph's routes on its instance. */
export function registerGraph(app: FastifyInstance, opts: GraphOptions): void {
  const ctx: GraphContext = {
    opts,
    directory: opts.directory,
    clock: opts.clock,
    budget: new WriteBudget(() => opts.clock.now(), opts.directory.tenantId, opts.writeBudget, {
      ...(opts.tenantWriteBudget ? { tenantBudget: opts.tenantWriteBudget } : {}),
      ...(opts.budgets ? { registry: opts.budgets } : {}),
    }),
  };
  installGraphErrorHandling(app, ctx.clock);
  // Graph tells a caller how close it is to its budget once past 80 % (`x-ms-throttle-limit-percentage`).
  const callers = new WeakMap<FastifyRequest, AccessTokenClaims>();
  const authenticated = async (req: FastifyRequest) => {
    const caller = await authenticate(ctx, req);
    callers.set(req, caller);
    return caller;
  };
  app.addHook('onSend', async (req, reply, payload) => {
    const caller = callers.get(req);
    if (caller && !reply.hasHeader('x-ms-throttle-limit-percentage')) {
      const load = ctx.budget.load(caller.appid);
      if (load >= 0.8) reply.header('x-ms-throttle-limit-percentage', load.toFixed(2));
    }
    return payload;
  });

  const handle =
    (fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await fn(req, reply);
      } catch (err) {
        if (err instanceof GraphHttpError) return sendGraphError(ctx.clock, reply, req, err);
        throw err;
      }
    };

  app.get(
    '/v1.0/*',
    handle(async (req) => {
      const caller = await authenticated(req);
      return /^\/v1\.0\/servicePrincipals(?:[/(?]|$)/.test(req.url)
        ? getServicePrincipals(ctx, req, caller)
        : getApplications(ctx, req, caller);
    }),
  );
  // Service-principal sign-ins: documented on Graph beta (sign-ins.ts).
  const history = opts.history;
  if (history) {
    app.get(
      '/beta/auditLogs/signIns',
      handle(async (req) => getSignIns(ctx, history, req, await authenticated(req))),
    );
  }
  app.patch(
    '/v1.0/*',
    handle(async (req, reply) => patchApplication(ctx, req, reply, await authenticated(req))),
  );
  app.post(
    '/v1.0/*',
    handle(async (req, reply) => postApplicationAction(ctx, req, reply, await authenticated(req))),
  );
}
