/**
 * The resources the sandbox's Entra issues client-credential tokens for. Every tenant has the first-party service
 * principals of Microsoft's APIs, so Azure issues an app-only token for any of them to any app of the tenant (what
 * the token allows is up to the API): Azure Resource Manager (both of its resource URIs), Storage, Key Vault,
 * Graph, Dataverse (each environment's own URL) and the Power Platform API — by resource URI or by app id.
 * Source: Entra v2-oauth2-client-creds-grant-flow.md (`scope={resource}/.default`); the app ids are the
 * well-known first-party ones (ARM 797f4846…, Storage e406a681…, Key Vault cfa8b339…, Dataverse 00000007…).
 */
import { normaliseAudience } from './access-tokens.js';
import type { Application } from './directory.js';
import type { ResourceResolution } from './entra.js';
import { graphAppId, graphResource } from './graph/index.js';
import { powerPlatformResource } from './power-platform.js';

/** Key Vault's resource URI (the audience of its tokens). */
export const vaultResource = 'https://vault.azure.net';

interface FirstPartyResource {
  kind: string;
  /** Resource URIs (compared without trailing slashes, case-insensitively) and the first-party app id. */
  identifiers: string[];
  roles(app: Application): string[];
  /** The access-token version the resource takes (default 2). */
  tokenVersion?: 1 | 2;
}

const none = () => [];

/** Microsoft's first-party resources present in every tenant, with their well-known app ids. */
export const firstPartyResources: FirstPartyResource[] = [
  { kind: 'graph', identifiers: [graphResource, graphAppId], roles: (app) => app.graphRoles },
  { kind: 'keyvault', identifiers: [vaultResource, 'cfa8b339-82a2-471a-a3c9-0fc0be7a4093'], roles: none },
  {
    kind: 'arm',
    identifiers: [
      'https://management.core.windows.net/',
      'https://management.azure.com/',
      '797f4846-ba00-4fd7-ba43-dac1f8f63013',
    ],
    roles: none,
  },
  // Storage takes v1.0 tokens (issuer sts.windows.net), and Azurite's OAuth check insists on that issuer.
  {
    kind: 'storage',
    identifiers: ['https://storage.azure.com/', 'e406a681-f3d4-42a8-90b6-c2b029497af1'],
    roles: none,
    tokenVersion: 1,
  },
  { kind: 'dataverse', identifiers: ['00000007-0000-0000-c000-000000000000'], roles: none },
  { kind: 'powerplatform', identifiers: [powerPlatformResource, '8578e004-a5c6-46e7-913e-12f58912df43'], roles: none },
];

/**
 * A Dataverse environment URL (`https://{org}.crm{N}.dynamics.com`, also `.api.` and the sovereign clouds'
 * `crm.microsoftdynamics.us`/`.de`/`crm.dynamics.cn`): Entra resolves each to Dataverse's first-party principal.
 */
const dataverseEnvironment =
  /^https:\/\/[a-z0-9-]+(\.api)?\.crm\d*\.(dynamics\.com|microsoftdynamics\.(us|de)|dynamics\.cn)$/;

/** Maps a requested resource to its kind and the app's roles there; undefined for a resource the tenant lacks. */
export function createResourceResolver(urls: {
  graph: () => string;
  dataverse: () => string;
  powerPlatform: () => string;
}): (resource: string, app: Application) => ResourceResolution | undefined {
  return (resource, app) => {
    const r = normaliseAudience(resource);
    // The sandbox's own service URLs stand for the public ones, so clients pointed at the sandbox get tokens too.
    const own: Record<string, string> = {
      [normaliseAudience(urls.graph())]: 'graph',
      [normaliseAudience(urls.dataverse())]: 'dataverse',
      [normaliseAudience(urls.powerPlatform())]: 'powerplatform',
    };
    const kind =
      own[r] ??
      firstPartyResources.find((f) => f.identifiers.map(normaliseAudience).includes(r))?.kind ??
      (dataverseEnvironment.test(r) ? 'dataverse' : undefined);
    if (!kind) return undefined;
    const known = firstPartyResources.find((f) => f.kind === kind);
    const roles = known?.roles(app) ?? [];
    return { kind, roles, ...(known?.tokenVersion ? { tokenVersion: known.tokenVersion } : {}) };
  };
}
