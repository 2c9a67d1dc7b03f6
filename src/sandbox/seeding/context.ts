/**
 * What a seeder gets (the world's services and the operator) and what it gives back: the target as the sandbox
 * reports it and its entry in the written certrotate.yaml.
 */
import type { AppServer } from '../app-server.js';
import { addApplicationUser, type DataverseOrg } from '../dataverse.js';
import type { Application, Directory } from '../directory.js';
import type { History } from '../history.js';
import type { HostSet } from '../hosts.js';
import type { KeyPool } from '../key-pool.js';
import type { SandboxTarget } from '../options.js';
import type { SandboxTls } from '../pki.js';
import type { ConfigTarget } from '../sandbox-config.js';
import type { SiteManager } from '../sites.js';
import type { Vaults } from '../vaults.js';
import type { TargetSeed } from '../world.js';

export interface SeedContext {
  directory: Directory;
  history: History;
  pool: KeyPool;
  tls: SandboxTls;
  hosts: HostSet;
  org: DataverseOrg;
  vaults: Vaults;
  sites: SiteManager;
  /** App servers started so far; a seeder that starts one adds it. */
  servers: AppServer[];
  /** The operator identity the written config signs in as. */
  operator: Application;
  /** The one Power Platform environment of the seeded world. */
  environmentId: string;
  /** Sandbox time at seeding; every seeded expiry is relative to it. */
  now: number;
  entraUrl: string;
  dataverseUrl: string;
}

export interface SeededTarget {
  target: SandboxTarget;
  config: ConfigTarget;
}

/** Seeds one kind of target. */
export interface Seeder<S extends TargetSeed> {
  seed(ctx: SeedContext, seed: S): Promise<SeededTarget>;
}

/** A target's app registration, owned by the operator and known to Dataverse as an application user. */
export function ownedApp(ctx: SeedContext, displayName: string): Application {
  const app = ctx.directory.createApp({ displayName });
  ctx.directory.addOwner(app, ctx.operator);
  addApplicationUser(ctx.org, app.appId, displayName);
  return app;
}
