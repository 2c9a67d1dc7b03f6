/**
 * The sandbox's key vaults: one Key Vault service (and one listener) per vault name, created on first use, and
 * their access policies (vault → app id → operations, '*' = all). Administrators get '*' on every vault.
 */
import type { AccessTokenIssuer } from './access-tokens.js';
import type { SandboxClock } from './clock.js';
import type { Directory } from './directory.js';
import { vaultResource } from './first-party-resources.js';
import { vaultFault, type HostSet } from './hosts.js';
import type { KeyPool } from './key-pool.js';
import { createKeyVaultService, type KeyVaultCaller, type KeyVaultService, type VaultState } from './keyvault/index.js';
import type { BudgetRegistry } from './budgets.js';

export interface Vault {
  service: KeyVaultService;
  url: string;
}

export interface Vaults {
  /** The vault of that name, started (listening) on first use. */
  vault(name: string): Promise<Vault>;
  /** Grants `appId` the operations on one vault. */
  grant(vault: string, appId: string, ops: string[]): void;
  /** Grants `appId` every operation on every vault, present and future. */
  addAdministrator(appId: string): void;
  /**
   * Withholds operations from `appId` on one vault, whatever it was granted (an administrator too): the vault answers
   * 403 Forbidden for them, as Azure does for a principal lacking the role or access policy.
   */
  deny(vault: string, appId: string, ops: string[]): void;
  states(): VaultState[];
}

export function createVaults(opts: {
  hosts: HostSet;
  tokens: AccessTokenIssuer;
  directory: Directory;
  pool: KeyPool;
  clock: SandboxClock;
  /** The Entra base URL (vault challenges name the tenant's authority). */
  entraUrl: () => string;
  createDelaySeconds: number;
  writeBudgetPer10s: number;
  certificateCreatesPer10s?: number;
  budgets?: BudgetRegistry;
}): Vaults {
  const access = new Map<string, Map<string, Set<string>>>();
  const services = new Map<string, Vault>();
  const administrators: string[] = [];
  const denied = new Map<string, Set<string>>();

  const grant = (vault: string, appId: string, ops: string[]) => {
    let m = access.get(vault);
    if (!m) access.set(vault, (m = new Map()));
    const set = m.get(appId.toLowerCase()) ?? new Set<string>();
    ops.forEach((o) => set.add(o));
    m.set(appId.toLowerCase(), set);
  };

  return {
    grant,
    addAdministrator(appId) {
      administrators.push(appId);
      for (const name of services.keys()) grant(name, appId, ['*']);
    },
    deny(vault, appId, ops) {
      const key = `${vault}\n${appId.toLowerCase()}`;
      const set = denied.get(key) ?? new Set<string>();
      ops.forEach((o) => set.add(o));
      denied.set(key, set);
    },
    states: () => [...services.values()].map((v) => v.service.state()),
    async vault(name) {
      const existing = services.get(name);
      if (existing) return existing;
      const h = opts.hosts.add('keyvault', name, vaultFault);
      const service = createKeyVaultService({
        name,
        authorizationUri: `${opts.entraUrl()}/${opts.directory.tenantId}`,
        resource: vaultResource,
        async verifyAccessToken(token): Promise<KeyVaultCaller | null> {
          const result = await opts.tokens.verify(token, [vaultResource]);
          if ('error' in result || result.claims.tid !== opts.directory.tenantId) return null;
          const c = result.claims;
          return { appId: c.appid, objectId: c.oid, tenantId: c.tid, roles: c.roles ?? [] };
        },
        authorize(caller, operation) {
          if (denied.get(`${name}\n${caller.appId.toLowerCase()}`)?.has(operation)) return false;
          const ops = access.get(name)?.get(caller.appId.toLowerCase());
          return Boolean(ops && (ops.has('*') || ops.has(operation)));
        },
        takeKeyPair: (n) => opts.pool.takeKeyPair(n),
        now: () => opts.clock.now(),
        createDelaySeconds: opts.createDelaySeconds,
        writeBudgetPer10s: opts.writeBudgetPer10s,
        ...(opts.certificateCreatesPer10s ? { certificateCreatesPer10s: opts.certificateCreatesPer10s } : {}),
        ...(opts.budgets ? { budgets: opts.budgets } : {}),
      });
      service.register(h.app);
      const url = await h.listen();
      service.setBaseUrl(url);
      for (const admin of administrators) grant(name, admin, ['*']);
      const entry = { service, url };
      services.set(name, entry);
      return entry;
    },
  };
}
