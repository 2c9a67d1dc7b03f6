/**
 * What Graph's route modules share: the options, the directory, the clock and how `@odata.context` is formed.
 */
import type { AccessTokenIssuer } from '../access-tokens.js';
import type { SandboxClock } from '../clock.js';
import type { Directory } from '../directory.js';
import type { History } from '../history.js';
import type { WriteBudget } from './throttle.js';
import type { BudgetRegistry } from '../budgets.js';

/** Options of `registerGraph`. */
export interface GraphOptions {
  directory: Directory;
  tokens: AccessTokenIssuer;
  clock: SandboxClock;
  /** The Graph base URL (`https://127.0.0.1:PORT`), accepted as a token audience too. */
  baseUrl(): string;
  /** Writes (PATCH, addKey, removeKey) allowed per caller app and tenant in `windowSeconds`; 0 = unlimited. */
  writeBudget?: { writes: number; windowSeconds: number };
  /** Writes allowed per tenant (all apps) in `windowSeconds`; absent = unlimited. */
  tenantWriteBudget?: { writes: number; windowSeconds: number };
  /** Where the budgets report their counts (`GET /budgets`). */
  budgets?: BudgetRegistry;
  /** Seconds by which application reads lag writes (0 = read-your-writes). */
  readLagSeconds?: number;
  /** The sandbox's history: its certificate sign-ins are the sign-in log (`/beta/auditLogs/signIns`). */
  history?: History;
}

export interface GraphContext {
  opts: GraphOptions;
  directory: Directory;
  clock: SandboxClock;
  budget: WriteBudget;
}

/** Public resource URI of Graph (a token audience) and its first-party app id. */
export const graphResource = 'https://graph.microsoft.com';
export const graphAppId = '00000003-0000-0000-c000-000000000000';

/** `@odata.context` as Graph writes it: always the public host, whatever host the client called. */
export function odataContext(fragment: string): string {
  return `${graphResource}/v1.0/$metadata#${fragment}`;
}

/** Graph's timestamps: ISO 8601 UTC to the second. */
export const graphDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
