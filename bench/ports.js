/**
 * The rotation ports a benchmark drives: the real Azure adapters and the target's server kind over the sandbox, with
 * short poll intervals so the measured time is the services' and certrotate's, not certrotate's waiting.
 */
import { createAzureAdapters } from '../dist/adapters/azure/index.js';
import { createServerTarget } from '../dist/adapters/servers/index.js';

/** Ports for `target` of the loaded sandbox config, on `clock`. */
export function benchPorts(loaded, target, clock) {
  const azure = createAzureAdapters(loaded.config, {
    clock,
    consistency: { consecutive: 3, intervalMs: 50, timeoutMs: 30_000 },
  });
  return {
    certificates: azure.certificates(target),
    apps: azure.apps,
    server: createServerTarget(target, { keyMaterial: azure.keyMaterial, clock, pollIntervalMs: 50 }),
    tokens: azure.tokens,
    dataverse: azure.dataverse,
    sites: azure.sites,
    clock,
    timing: { createPollMs: 50, readPollMs: 50 },
  };
}
