import { AdapterError, type CertificateStore } from '../adapters/ports.js';
import type { Config, TargetConfig } from '../config/schema.js';
import type { RotationPorts } from '../runs/driver.js';
import { systemClock } from '../runs/system-clock.js';
import type { CommandContext } from './context.js';

import type { AzureAdapters } from '../adapters/azure/index.js';
const adaptersByConfig = new WeakMap<Config, Promise<AzureAdapters>>();

/** A power-pages target has no vault: Power Pages holds its key. Any call here is a bug, said plainly. */
const noVault: CertificateStore = new Proxy({} as CertificateStore, {
  get: (_t, method) => () =>
    Promise.reject(
      new AdapterError({
        code: 'invalidRequest',
        message: `power-pages targets have no Key Vault certificate (called ${String(method)})`,
        retryable: false,
      }),
    ),
});

/** The Azure adapters of a config, made once per config (a command reusing them shares token caches and limiters). */
export function azureAdaptersFor(ctx: CommandContext, config: Config): Promise<AzureAdapters> {
  let adapters = adaptersByConfig.get(config);
  if (!adapters) {
    adapters = import('../adapters/azure/index.js').then(({ createAzureAdapters }) =>
      createAzureAdapters(config, { logger: ctx.logger, clock: systemClock, env: ctx.env }),
    );
    adaptersByConfig.set(config, adapters);
  }
  return adapters;
}

/**
 * The ports of one target over the real SDKs. The Azure SDKs load here, lazily, so commands that never talk to
 * Azure (`--help`, `runs`, `diagram`) never pay for them.
 */
export async function portsForTarget(
  ctx: CommandContext,
  config: Config,
  target: TargetConfig,
): Promise<RotationPorts> {
  const azure = await azureAdaptersFor(ctx, config);
  if (target.kind === 'power-pages') {
    return {
      certificates: noVault,
      apps: azure.apps,
      tokens: azure.tokens,
      dataverse: azure.dataverse,
      sites: azure.sites,
      ownership: azure.ownership,
      clock: systemClock,
    };
  }
  const { createServerTarget } = await import('../adapters/servers/index.js');
  return {
    certificates: azure.certificates(target),
    apps: azure.apps,
    server: createServerTarget(target, {
      keyMaterial: azure.keyMaterial,
      clock: systemClock,
      logger: ctx.logger,
      env: ctx.env,
    }),
    tokens: azure.tokens,
    dataverse: azure.dataverse,
    sites: azure.sites,
    clock: systemClock,
  };
}
