/**
 * Power Pages sites. The platform holds each site's key: the site URL answers 200 while the key it holds is a valid,
 * propagated credential of its app, and 503 while restarting or when that key is gone. `updateKey` is the admin
 * center's Update key: a new platform key attached to the app, a restart, then the site uses it (and, with
 * `removesOldKey`, the platform drops the old key from the app).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Application, Directory } from './directory.js';
import type { History } from './history.js';
import type { KeyPool } from './key-pool.js';
import { createSelfSignedCertificate } from './pki.js';
import type { WebsiteDto } from './power-platform.js';

export interface SiteRecord {
  websiteId: string;
  /** The target's name in the written config. */
  target: string;
  environmentId: string;
  app: Application;
  /** true for sites on the platform-managed identity (federated credential, no key). */
  federated: boolean;
  status: 'running' | 'restarting';
  /** Thumbprint of the platform key in use; null when federated. */
  thumbprint: string | null;
  keyId: string | null;
  url: string;
  dto: WebsiteDto;
}

export interface SiteManagerOptions {
  directory: Directory;
  history: History;
  pool: KeyPool;
  now(): number;
  restartSeconds: number;
  removesOldKey: boolean;
  /** Validity of a key made by Update key (the 2026 docs say one year). */
  keyValidityDays?: number;
}

export class SiteUpdateError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SiteManager {
  add(site: SiteRecord): void;
  get(websiteId: string): SiteRecord | undefined;
  all(): SiteRecord[];
  /** Whether the site serves now, and why not. */
  health(site: SiteRecord): { healthy: boolean; reason?: string };
  updateKey(websiteId: string): Promise<{ websiteId: string; status: string; thumbprint: string; keyId: string }>;
  register(app: FastifyInstance, site: SiteRecord): void;
  close(): void;
}

export function createSiteManager(opts: SiteManagerOptions): SiteManager {
  const sites = new Map<string, SiteRecord>();
  const timers = new Set<NodeJS.Timeout>();

  const manager: SiteManager = {
    add(site) {
      sites.set(site.websiteId, site);
    },
    get: (id) => sites.get(id),
    all: () => [...sites.values()],
    health(site) {
      if (site.status === 'restarting') return { healthy: false, reason: 'The site is restarting.' };
      if (site.federated) return { healthy: true };
      const key = site.app.keyCredentials.find((k) => k.keyId === site.keyId);
      if (!key) return { healthy: false, reason: 'Authentication failed: the site key is not registered on its app.' };
      const state = opts.directory.keyState(key);
      if (state !== 'valid') return { healthy: false, reason: `Authentication failed: the site key is ${state}.` };
      return { healthy: true };
    },
    async updateKey(websiteId) {
      const site = sites.get(websiteId);
      if (!site) throw new SiteUpdateError(404, `Website '${websiteId}' was not found.`);
      if (site.federated)
        throw new SiteUpdateError(409, 'The site uses the platform-managed identity; it has no key to update.');
      if (site.status === 'restarting') throw new SiteUpdateError(409, 'A key update is already in progress.');
      const now = opts.now();
      const keys = await opts.pool.takeKeyPair(2048);
      const material = await createSelfSignedCertificate(keys, {
        subject: `CN=${site.app.displayName}`,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + (opts.keyValidityDays ?? 365) * 86_400_000),
      });
      const credential = opts.directory.keyCredentialFromCertificate(material.certDer, { keyId: randomUUID() });
      opts.directory.setKeyCredentials(site.app, [...site.app.keyCredentials, credential]);
      const oldKeyId = site.keyId;
      site.status = 'restarting';
      site.dto.status = 'Restarting';
      const timer = setTimeout(() => {
        timers.delete(timer);
        site.thumbprint = credential.thumbprint;
        site.keyId = credential.keyId;
        site.status = 'running';
        site.dto.status = 'Running';
        opts.history.record({ kind: 'siteKey', websiteId: site.websiteId, thumbprint: credential.thumbprint });
        if (opts.removesOldKey && oldKeyId) {
          opts.directory.setKeyCredentials(
            site.app,
            site.app.keyCredentials.filter((k) => k.keyId !== oldKeyId),
          );
        }
      }, opts.restartSeconds * 1000);
      timers.add(timer);
      return { websiteId, status: 'restarting', thumbprint: credential.thumbprint, keyId: credential.keyId };
    },
    register(app, site) {
      app.get('/*', async (_req, reply) => {
        const h = manager.health(site);
        if (!h.healthy) {
          return reply
            .code(503)
            .type('text/html; charset=utf-8')
            .send(`<!doctype html><title>Service unavailable</title><p>${h.reason ?? ''}</p>`);
        }
        return reply
          .type('text/html; charset=utf-8')
          .send(`<!doctype html><title>${site.dto.name}</title><p>${site.dto.name} is up.</p>`);
      });
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
  return manager;
}
