/**
 * The resources the sandbox's Entra issues client-credential tokens for, and what each grants the caller.
 */
import { normaliseAudience } from './access-tokens.js';
import type { Application } from './directory.js';
import type { ResourceResolution } from './entra.js';
import { graphAppId, graphResource } from './graph/index.js';
import { powerPlatformResource } from './power-platform.js';

/** Key Vault's resource URI (the audience of its tokens). */
export const vaultResource = 'https://vault.azure.net';

/** Maps a requested resource to its kind and the app's roles there; undefined for a resource the tenant lacks. */
export function createResourceResolver(urls: {
  graph: () => string;
  dataverse: () => string;
  powerPlatform: () => string;
}): (resource: string, app: Application) => ResourceResolution | undefined {
  return (resource, app) => {
    const r = normaliseAudience(resource);
    if ([graphResource, graphAppId, urls.graph()].map(normaliseAudience).includes(r))
      return { kind: 'graph', roles: app.graphRoles };
    if (r === normaliseAudience(vaultResource)) return { kind: 'keyvault', roles: [] };
    if (r === normaliseAudience(urls.dataverse())) return { kind: 'dataverse', roles: [] };
    if ([powerPlatformResource, urls.powerPlatform()].map(normaliseAudience).includes(r))
      return { kind: 'powerplatform', roles: [] };
    return undefined;
  };
}
