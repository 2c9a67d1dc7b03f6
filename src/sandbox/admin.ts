/**
 * The admin API (DESIGN §6): `/state`, `/history`, `/requests`, `/faults`, `/notifications`, and the admin center's Update key.
 * It is not instrumented itself, so its own calls never show up in the request log or trip fault rules.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { faultRuleSchema, type Instrumentation } from './instrumentation.js';
import type { History } from './history.js';
import type { NotificationReceivers } from './notification-receivers.js';
import { SiteUpdateError, type SiteManager } from './sites.js';

export interface AdminOptions {
  state(): unknown;
  history: History;
  instrumentation: Instrumentation;
  sites: SiteManager;
  /** `GET /budgets`: each service budget's accepted and throttled requests per key (budgets.ts). */
  budgets?: () => unknown;
  /** `GET /tokens`: tokens issued per identity and resource. */
  tokens?: () => unknown;
  /** `GET /notifications`: the deliveries the notification receivers recorded (when they run). */
  notifications?: Pick<NotificationReceivers, 'deliveries' | 'clear'>;
}

const faultsBody = z.object({ rules: z.array(faultRuleSchema) }).strict();

export function registerAdmin(app: FastifyInstance, opts: AdminOptions): void {
  app.get('/state', async () => opts.state());
  app.get('/history', async () => opts.history.events());
  app.get('/requests', async () => opts.instrumentation.requests());
  app.get('/budgets', async () => opts.budgets?.() ?? []);
  app.get('/tokens', async () => opts.tokens?.() ?? []);
  app.get('/notifications', async () => opts.notifications?.deliveries() ?? []);
  app.delete('/notifications', async () => {
    opts.notifications?.clear();
    return [];
  });
  app.get('/faults', async () => ({ rules: opts.instrumentation.faults() }));
  app.post('/faults', async (req, reply) => {
    const parsed = faultsBody.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: z.prettifyError(parsed.error) });
    opts.instrumentation.addFaults(parsed.data.rules);
    return { rules: opts.instrumentation.faults() };
  });
  app.delete('/faults', async () => {
    opts.instrumentation.clearFaults();
    return { rules: [] };
  });
  app.post<{ Params: { id: string } }>('/sites/:id/update-key', async (req, reply) => {
    try {
      return reply.code(202).send(await opts.sites.updateKey(req.params.id));
    } catch (err) {
      if (err instanceof SiteUpdateError) return reply.code(err.status).send({ error: err.message });
      throw err;
    }
  });
}
