/**
 * The Power Platform API's Power Pages websites (`/powerpages/environments/{env}/websites`, list and get) with the
 * WebsiteDto fields the reference lists. The DTO has no key expiry or thumbprint: that lives on the app registration.
 */
import type { FastifyInstance } from 'fastify';
import { bearerToken, type AccessTokenIssuer } from './access-tokens.js';
import type { Directory } from './directory.js';

/** Public resource of the Power Platform API (token audience), accepted besides the sandbox's own URL. */
export const powerPlatformResource = 'https://api.powerplatform.com';

/** A Power Pages website as the Websites API returns it. */
export interface WebsiteDto {
  id: string;
  name: string;
  createdOn: string;
  templateName: string;
  websiteUrl: string;
  tenantId: string;
  dataverseInstanceUrl: string;
  environmentName: string;
  environmentId: string;
  dataverseOrganizationId: string;
  selectedBaseLanguage: number;
  customHostNames: string[];
  websiteRecordId: string;
  subdomain: string;
  packageInstallStatus: string;
  type: string;
  trialExpiringInDays: number | null;
  suspendedWebsiteDeletingInDays: number | null;
  packageVersion: string;
  isEarlyUpgradeEnabled: boolean;
  isCustomErrorEnabled: boolean;
  /** App (client) id of the site's Entra app ("Portals - …"). */
  applicationUserAadAppId: string;
  ownerId: string;
  status: string;
  siteVisibility: string;
}

export interface PowerPlatformOptions {
  directory: Directory;
  tokens: AccessTokenIssuer;
  baseUrl(): string;
  /** The tenant's environments (environment management list); none listed when absent. */
  environments?(): { id: string; displayName: string; dataverseUrl: string }[];
  /** Websites by environment id; read at request time so restarts show up. */
  websites(environmentId: string): WebsiteDto[] | undefined;
}

const ppError = (code: string, message: string) => ({ error: { code, message } });

export function registerPowerPlatform(app: FastifyInstance, opts: PowerPlatformOptions): void {
  async function caller(req: { headers: { authorization?: string } }) {
    const result = await opts.tokens.verify(bearerToken(req.headers.authorization), [
      powerPlatformResource,
      opts.baseUrl(),
    ]);
    if ('error' in result) return { status: 401, body: ppError('Unauthorized', result.error) } as const;
    const app = opts.directory.appByAppId(result.claims.appid);
    // Service-principal access to the websites API is not documented; the sandbox grants it to apps it marks as readers.
    if (!app?.powerPlatformReader) {
      return {
        status: 403,
        body: ppError('Forbidden', 'The caller does not have permission to read websites in this environment.'),
      } as const;
    }
    return undefined;
  }

  // Environment management's list (`GET /environmentmanagement/environments`), reduced to the fields discover reads:
  // the environment id, its display name and its Dataverse URL. The full response shape is UNCONFIRMED here.
  app.get('/environmentmanagement/environments', async (req, reply) => {
    const denied = await caller(req);
    if (denied) return reply.code(denied.status).send(denied.body);
    return {
      value: (opts.environments?.() ?? []).map((e) => ({
        id: e.id,
        displayName: e.displayName,
        dataverseOrganizationUrl: e.dataverseUrl,
        type: 'Production',
      })),
    };
  });

  app.get<{ Params: { env: string } }>('/powerpages/environments/:env/websites', async (req, reply) => {
    const denied = await caller(req);
    if (denied) return reply.code(denied.status).send(denied.body);
    const sites = opts.websites(req.params.env);
    if (!sites)
      return reply.code(404).send(ppError('EnvironmentNotFound', `Environment '${req.params.env}' was not found.`));
    const skip = Number((req.query as { skip?: string }).skip ?? 0) || 0;
    const page = 100;
    const value = sites.slice(skip, skip + page);
    const next =
      skip + page < sites.length
        ? `${opts.baseUrl()}/powerpages/environments/${req.params.env}/websites?api-version=2024-10-01&skip=${skip + page}`
        : undefined;
    return next ? { value, '@odata.nextLink': next } : { value };
  });

  app.get<{ Params: { env: string; id: string } }>('/powerpages/environments/:env/websites/:id', async (req, reply) => {
    const denied = await caller(req);
    if (denied) return reply.code(denied.status).send(denied.body);
    const site = opts.websites(req.params.env)?.find((s) => s.id === req.params.id);
    if (!site) return reply.code(404).send(ppError('WebsiteNotFound', `Website '${req.params.id}' was not found.`));
    return site;
  });
}
