/**
 * Faults, latency and the request log, applied in fastify hooks on every service instance so that one rule set
 * covers Entra, Graph, Key Vault, Dataverse, Power Platform, app servers and sites alike.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isoTime, type SandboxClock } from './clock.js';

/** A fault rule (DESIGN §6 `POST /faults`). */
export const faultRuleSchema = z
  .object({
    /** Service kind (`entra`, `graph`, `keyvault`, `dataverse`, `powerplatform`, `server`, `site`) or instance name. */
    service: z.string().min(1),
    method: z.string().optional(),
    /** Exact path, a path prefix ending at `/` or `(`, or a glob with `*`. Query strings are ignored. */
    path: z.string().optional(),
    status: z.number().int().min(100).max(599).optional(),
    /** Seconds, sent as `Retry-After`. */
    retryAfter: z.number().min(0).optional(),
    latencyMs: z.number().min(0).optional(),
    /** How many matching requests the rule applies to; unlimited when absent. */
    count: z.number().int().min(1).optional(),
    /** Chance (0..1) that a matching request is affected. */
    probability: z.number().min(0).max(1).optional(),
  })
  .strict();
export type FaultRule = z.infer<typeof faultRuleSchema>;

export interface RequestLogEntry {
  time: string;
  /** Service kind: `entra`, `graph`, `keyvault`, `dataverse`, `powerplatform`, `server` or `site`. */
  service: string;
  /** The instance: the vault name, the server's or site's target name, else the service kind again. */
  instance: string;
  method: string;
  path: string;
  status: number;
  /** Time the sandbox spent on the request, injected latency included (benchmarks subtract it from client time). */
  elapsedMs: number;
}

/** Writes an error body in the dialect of the service that answers (clients parse them). */
export type FaultBody = (status: number, message: string) => unknown;

export interface Instrumentation {
  /** Global latency added to every service request (`--latency`). */
  latencyMs: number;
  addFaults(rules: FaultRule[]): void;
  clearFaults(): void;
  faults(): (FaultRule & { remaining: number | null })[];
  requests(): RequestLogEntry[];
  /** Installs the hooks on one service instance. */
  instrument(app: FastifyInstance, service: { kind: string; name: string; faultBody: FaultBody }): void;
}

function pathMatches(pattern: string, path: string): boolean {
  if (pattern.includes('*')) {
    const re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    return re.test(path);
  }
  const p = pattern.replace(/\/+$/, '');
  return path === pattern || path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}(`);
}

/** Request-log entries kept (oldest dropped first). */
const MAX_LOG = 200_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createInstrumentation(opts: {
  clock: SandboxClock;
  latencyMs?: number;
  random?: () => number;
}): Instrumentation {
  const random = opts.random ?? Math.random;
  let rules: { rule: FaultRule; remaining: number | null }[] = [];
  const log: RequestLogEntry[] = [];

  function matchRule(kind: string, name: string, method: string, path: string) {
    for (const entry of rules) {
      const r = entry.rule;
      if (r.service !== kind && r.service !== name) continue;
      if (r.method && r.method.toUpperCase() !== method) continue;
      if (r.path && !pathMatches(r.path, path)) continue;
      if (entry.remaining === 0) continue;
      if (r.probability !== undefined && random() >= r.probability) continue;
      if (entry.remaining !== null) entry.remaining -= 1;
      return r;
    }
    return undefined;
  }

  const inst: Instrumentation = {
    latencyMs: opts.latencyMs ?? 0,
    addFaults(newRules) {
      rules.push(...newRules.map((rule) => ({ rule, remaining: rule.count ?? null })));
    },
    clearFaults() {
      rules = [];
    },
    faults: () => rules.map((e) => ({ ...e.rule, remaining: e.remaining })),
    requests: () => log.slice(),
    instrument(app, service) {
      app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const path = req.url.split('?')[0] ?? req.url;
        const rule = matchRule(service.kind, service.name, req.method, path);
        const delay = inst.latencyMs + (rule?.latencyMs ?? 0);
        if (delay > 0) await sleep(delay);
        if (rule?.status !== undefined) {
          if (rule.retryAfter !== undefined) reply.header('retry-after', String(rule.retryAfter));
          return reply
            .code(rule.status)
            .type('application/json; charset=utf-8')
            .send(service.faultBody(rule.status, `Injected fault (status ${rule.status}).`));
        }
        return undefined;
      });
      app.addHook('onResponse', async (req, reply) => {
        // Bounded so a long benchmark cannot grow the sandbox without limit; tests read far fewer entries.
        if (log.length >= MAX_LOG) log.splice(0, log.length - MAX_LOG + 1);
        log.push({
          time: isoTime(opts.clock.now()),
          service: service.kind,
          instance: service.name,
          method: req.method,
          path: req.url.split('?')[0] ?? req.url,
          status: reply.statusCode,
          elapsedMs: Math.round(reply.elapsedTime * 100) / 100,
        });
      });
    },
  };
  return inst;
}
