/**
 * What the route modules share: the options, the store, the write budget, and how a request's vault URL is formed.
 */
import type { FastifyRequest } from 'fastify';
import type { KeyVaultCaller, KeyVaultServiceOptions } from './options.js';
import { recoveryAttributes, type RecoveryAttributes, type RecoverySettings } from './soft-delete.js';
import type { VaultStore } from './store.js';
import type { WriteBudget } from './throttle.js';

/** Per-route settings the guards read before any body is parsed. */
export interface KeyVaultRouteConfig {
  /** The permission checked through `authorize`, e.g. `certificates/create`. */
  operation: string;
}

export interface VaultContext {
  opts: KeyVaultServiceOptions;
  store: VaultStore;
  budget: WriteBudget;
  /** Soft delete and purge protection, resolved once. */
  recovery: RecoverySettings;
  /** The vault URL given to `setBaseUrl`, without a trailing slash (or '' before it was called). */
  baseUrl(): string;
  /** Callers resolved by the guards, per request. */
  callers: WeakMap<FastifyRequest, KeyVaultCaller>;
}

/** Epoch seconds on the sandbox clock, the unit of every Key Vault timestamp. */
export function nowSeconds(ctx: VaultContext): number {
  return Math.floor(ctx.opts.now() / 1000);
}

/**
 * The vault URL as this client addressed it. Ids and `nextLink`s are built from the request's Host so a client that
 * says `localhost` is not handed `127.0.0.1` links (and vice versa); the scheme comes from the configured URL.
 */
export function vaultUrlOf(ctx: VaultContext, request: FastifyRequest): string {
  const configured = ctx.baseUrl();
  const host = request.headers.host;
  if (!host) return configured;
  const scheme = configured ? new URL(configured).protocol : 'https:';
  return `${scheme}//${host}`;
}

/** What the wire bodies need from a request: the vault URL it used and the vault's deletion attributes. */
export interface WireBase {
  base: string;
  recovery: RecoveryAttributes;
}

/** The {@link WireBase} of a request. */
export function wireOf(ctx: VaultContext, request: FastifyRequest): WireBase {
  return { base: vaultUrlOf(ctx, request), recovery: recoveryAttributes(ctx.recovery) };
}

/** Reads a query parameter that may repeat; the last value wins, as in ASP.NET. */
export function queryParam(request: FastifyRequest, key: string): string | undefined {
  const value = (request.query as Record<string, string | string[] | undefined>)[key];
  return Array.isArray(value) ? value[value.length - 1] : value;
}
