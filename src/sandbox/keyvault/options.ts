/**
 * The Key Vault service's public types (the contract with the sandbox core, issue 3).
 */
import type { webcrypto } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { VaultState } from './store.js';
import type { BudgetRegistry } from '../budgets.js';

export type { VaultState };

/** The identity behind a validated bearer token. */
export interface KeyVaultCaller {
  appId: string;
  objectId?: string;
  tenantId?: string;
  roles?: string[];
}

export interface KeyVaultServiceOptions {
  /** Vault name, e.g. 'kv-contoso'. */
  name: string;
  /** Value of `authorization` in the 401 challenge: `${entraBaseUrl}/${tenantId}` (no spaces). */
  authorizationUri: string;
  /** The challenge `resource`, and the token audience required: 'https://vault.azure.net'. */
  resource: string;
  /** Validates a bearer JWT for `resource`; resolves the caller or null (→ 401 with Key Vault's error body). */
  verifyAccessToken(token: string): Promise<KeyVaultCaller | null>;
  /** Whether the caller may perform an operation, e.g. 'certificates/create', 'secrets/get'; default: allow all. */
  authorize?(caller: KeyVaultCaller, operation: string): boolean;
  /** An RSA key pair of the given size from the sandbox's pre-generated pool (WebCrypto, extractable, RSASSA-PKCS1-v1_5 SHA-256). */
  takeKeyPair(modulusLength: number): Promise<webcrypto.CryptoKeyPair>;
  /** The sandbox clock in ms (tests may move it). */
  now(): number;
  /** Seconds a certificate create stays `inProgress`. */
  createDelaySeconds: number;
  /** Writes allowed per 10 s before 429 + Retry-After (Key Vault's throttling), 0 = unlimited. */
  writeBudgetPer10s?: number;
  /** Certificate creates allowed per 10 s before 429 + Retry-After, 0 = unlimited. */
  certificateCreatesPer10s?: number;
  /** Where the vault's budgets report their counts (`GET /budgets`). */
  budgets?: BudgetRegistry;
  /**
   * Soft delete: a deleted certificate (and its secret) stays recoverable for `softDeleteRetentionDays`. Default true:
   * Microsoft turned it on for every vault in February 2025 and it can no longer be turned off (soft-delete-overview).
   * false models an older vault without it: DELETE removes at once and answers without `recoveryId`.
   */
  softDelete?: boolean;
  /** Days a deleted object stays recoverable, 7..90. Default 90, Azure's default when none is configured. */
  softDeleteRetentionDays?: number;
  /**
   * Purge protection: purging a deleted object is refused with 403 until its retention ends. Default false: it is an
   * opt-in vault property (`enablePurgeProtection`), not enabled by default.
   */
  purgeProtection?: boolean;
}

/** Material of a seeded certificate version. */
export interface ImportedCertificateMaterial {
  certDer: Uint8Array;
  privateKeyPkcs8: Uint8Array;
  tags?: Record<string, string>;
  contentType?: 'application/x-pem-file' | 'application/x-pkcs12';
  enabled?: boolean;
}

export interface KeyVaultService {
  /** Registers every Key Vault route at the root of this fastify instance (one instance and port per vault). */
  register(app: FastifyInstance): void;
  /** Must be called once the instance listens, with the vault URL clients use, e.g. https://127.0.0.1:PORT */
  setBaseUrl(url: string): void;
  /** Seeds a certificate version from existing material (the seeded world's current keys). Returns the version id. */
  importCertificate(
    name: string,
    material: ImportedCertificateMaterial,
  ): Promise<{ version: string; thumbprint: string }>;
  /** For GET /state: `{url, certificates:[{name, versions:[{version, thumbprint, enabled, created, expires, tags}]}]}`. */
  state(): VaultState;
}
