/**
 * The admin API's `/state`: the world as a rehearsing operator inspects it — each app's keys and federated
 * credentials (with the target it backs), each vault, each app server's key and each site's status.
 */
import type { AppServer } from './app-server.js';
import { isoTime } from './clock.js';
import type { Directory } from './directory.js';
import type { SandboxTarget } from './options.js';
import type { SiteManager } from './sites.js';
import type { Vaults } from './vaults.js';

export interface WorldView {
  directory: Directory;
  targets: SandboxTarget[];
  vaults: Vaults;
  servers: AppServer[];
  sites: SiteManager;
}

/** The `/state` document, read at request time. */
export function adminState(w: WorldView) {
  return {
    apps: w.directory.apps().map((a) => ({
      appId: a.appId,
      objectId: a.id,
      displayName: a.displayName,
      target: w.targets.find((t) => t.appId === a.appId)?.name ?? null,
      keyCredentials: a.keyCredentials.map((k) => ({
        keyId: k.keyId,
        thumbprint: k.thumbprint,
        start: isoTime(k.startMs),
        end: isoTime(k.endMs),
      })),
      federatedIdentityCredentials: a.federatedIdentityCredentials.map((f) => ({ id: f.id, name: f.name })),
    })),
    vaults: w.vaults.states(),
    servers: w.servers.map((s) => ({
      name: s.name,
      appId: s.appId,
      thumbprint: s.current().thumbprint,
      previousThumbprint: s.previous()?.thumbprint ?? null,
    })),
    sites: w.sites.all().map((s) => ({
      websiteId: s.websiteId,
      target: s.target,
      appId: s.app.appId,
      status: s.status,
      thumbprint: s.thumbprint,
      url: s.url,
    })),
  };
}
