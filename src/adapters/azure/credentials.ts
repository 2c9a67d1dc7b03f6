/**
 * certrotate's own sign-in: `auth.kind` in the configuration → an `@azure/identity` credential, every one pointed at
 * `cloud.authorityHost` with the knobs a non-public authority needs.
 */
import {
  AzureCliCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { Config } from '../../config/schema.js';
import { AdapterError } from '../ports.js';
import type { ServiceLimiter } from './limiter.js';
import { limiterClientOptions } from './limiter-policies.js';

/** Authority hosts MSAL knows (public and sovereign clouds): instance discovery works against them. */
const KNOWN_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.windows.net',
  'login.microsoft.com',
  'sts.windows.net',
]);

/** Options every identity credential certrotate builds shares. */
export interface IdentityOptions {
  authorityHost: string;
  /**
   * True for an authority MSAL does not know (the sandbox, a private cloud): without it MSAL asks
   * login.microsoftonline.com for instance discovery and rejects the host as `untrusted_authority` (graph-entra §6.1).
   */
  disableInstanceDiscovery: boolean;
  tlsOptions?: { ca: string };
  /** The token requests' pipeline policies: the shared limiter (limiter-policies.ts), when one is given. */
  additionalPolicies?: ReturnType<typeof limiterClientOptions>['additionalPolicies'];
}

/**
 * The identity options for `cloud` (and the extra CA, when one is configured); with `limiter`, every token request
 * of a credential built with them goes through it.
 */
export function identityOptions(cloud: Config['cloud'], caPem?: string, limiter?: ServiceLimiter): IdentityOptions {
  const host = new URL(cloud.authorityHost).hostname.toLowerCase();
  return {
    authorityHost: cloud.authorityHost.replace(/\/+$/, ''),
    disableInstanceDiscovery: !KNOWN_AUTHORITY_HOSTS.has(host),
    ...(caPem ? { tlsOptions: { ca: caPem } } : {}),
    ...limiterClientOptions(limiter),
  };
}

/**
 * The credential certrotate signs in with (`auth`): default → DefaultAzureCredential (environment, workload
 * identity, managed identity, Azure CLI, …); azure-cli; client-secret (inline or from the environment variable
 * `clientSecretEnv`); client-certificate; workload-identity; managed-identity. Throws `invalidRequest` when a
 * secret's environment variable is unset.
 */
export function createOperatorCredential(
  config: Pick<Config, 'tenantId' | 'cloud' | 'auth'>,
  opts: { caPem?: string; env?: NodeJS.ProcessEnv; limiter?: ServiceLimiter } = {},
): TokenCredential {
  const env = opts.env ?? process.env;
  const base = identityOptions(config.cloud, opts.caPem, opts.limiter);
  const auth = config.auth;
  switch (auth.kind) {
    case 'default':
      return new DefaultAzureCredential({
        ...base,
        tenantId: config.tenantId,
        ...(auth.clientId ? { managedIdentityClientId: auth.clientId, workloadIdentityClientId: auth.clientId } : {}),
      });
    case 'azure-cli':
      return new AzureCliCredential({ ...base, tenantId: config.tenantId });
    case 'client-secret': {
      const secret = auth.clientSecret ?? (auth.clientSecretEnv ? env[auth.clientSecretEnv] : undefined);
      if (!secret) {
        throw new AdapterError({
          code: 'invalidRequest',
          message: `auth.clientSecretEnv names ${auth.clientSecretEnv ?? '(nothing)'}, but that environment variable is not set`,
          retryable: false,
        });
      }
      return new ClientSecretCredential(config.tenantId, auth.clientId, secret, base);
    }
    case 'client-certificate':
      return new ClientCertificateCredential(
        config.tenantId,
        auth.clientId,
        { certificatePath: auth.certificatePath },
        base,
      );
    case 'workload-identity':
      return new WorkloadIdentityCredential({
        ...base,
        tenantId: config.tenantId,
        ...(auth.clientId ? { clientId: auth.clientId } : {}),
        ...(auth.tokenFilePath ? { tokenFilePath: auth.tokenFilePath } : {}),
      });
    case 'managed-identity':
      return auth.clientId
        ? new ManagedIdentityCredential({ ...base, clientId: auth.clientId })
        : new ManagedIdentityCredential(base);
  }
}
