/**
 * The Graph v1.0 `application` resource over raw HTTPS: its documented properties on GET, PATCH of the writable
 * ones, and the addPassword / removePassword actions. Sources: resources/application.md (properties, which are
 * read-only), api/application-update.md (204, passwordCredentials only through actions), api/application-addpassword.md
 * (200 + passwordCredential with secretText, returned only then), api/application-removepassword.md (204).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Application } from '../../../src/sandbox/directory.js';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { graph, graphError, postTokenForm, secretToken } from './wire.js';

let sb: Sandbox;
let token: string;

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0 });
  token = await secretToken(sb, sb.operator.clientId, sb.operator.clientSecret, 'https://graph.microsoft.com/.default');
});
afterAll(() => sb?.stop());

/** An app the operator owns (Application.ReadWrite.OwnedBy lets it write owned apps only). */
function ownedApp(): Application {
  const app = sb.directory.createApp({ displayName: `conf-${randomUUID().slice(0, 8)}` });
  sb.directory.addOwner(app, sb.directory.appByAppId(sb.operator.clientId)!);
  return app;
}

describe('application properties', () => {
  // Azure: a GET returns the resource's documented v1.0 properties, not only those certrotate reads.
  it('returns the documented v1.0 properties with a new registration’s values', async () => {
    const app = ownedApp();
    const res = await graph(sb, token, 'GET', `/v1.0/applications/${app.id}`);
    expect(res.status).toBe(200);
    for (const prop of [
      'id',
      'appId',
      'displayName',
      'createdDateTime',
      'deletedDateTime',
      'description',
      'identifierUris',
      'signInAudience',
      'publisherDomain',
      'tags',
      'notes',
      'api',
      'appRoles',
      'info',
      'keyCredentials',
      'passwordCredentials',
      'publicClient',
      'requiredResourceAccess',
      'web',
      'spa',
      'optionalClaims',
      'parentalControlSettings',
      'verifiedPublisher',
      'serviceManagementReference',
      'groupMembershipClaims',
      'isFallbackPublicClient',
      'tokenEncryptionKeyId',
      'addIns',
      'certification',
    ]) {
      expect(res.body, prop).toHaveProperty(prop);
    }
    expect(res.body).toMatchObject({
      signInAudience: 'AzureADMyOrg',
      identifierUris: [],
      web: { redirectUris: [], implicitGrantSettings: { enableIdTokenIssuance: false } },
      publicClient: { redirectUris: [] },
    });
  });

  // Azure: PATCH sets writable properties (204) and a GET reads them back; read-only ones are refused with 400.
  it('PATCHes writable properties and refuses read-only ones', async () => {
    const app = ownedApp();
    const patch = {
      notes: 'rotated by certrotate',
      tags: ['s2s'],
      identifierUris: [`api://${app.appId}`],
      web: { redirectUris: ['https://contoso.example/signin'] },
    };
    expect((await graph(sb, token, 'PATCH', `/v1.0/applications/${app.id}`, patch)).status).toBe(204);
    const read = await graph(sb, token, 'GET', `/v1.0/applications/${app.id}?$select=notes,tags,identifierUris,web`);
    expect(read.body).toMatchObject(patch);
    const readOnly = await graph(sb, token, 'PATCH', `/v1.0/applications/${app.id}`, { appId: randomUUID() });
    expect(readOnly.status).toBe(400);
    expect(graphError(readOnly).code).toBe('Request_BadRequest');
    const secrets = await graph(sb, token, 'PATCH', `/v1.0/applications/${app.id}`, { passwordCredentials: [] });
    expect(graphError(secrets).message).toBe('New password credentials must be generated using service actions.');
  });
});

describe('addPassword / removePassword', () => {
  // Azure: addPassword answers 200 with the passwordCredential and its secretText, shown only in that response;
  // the secret signs in; reads show a hint and never the text; removePassword (204) withdraws it.
  it('adds a secret that signs in, never shows it again, and removes it', async () => {
    const app = ownedApp();
    const added = await graph(sb, token, 'POST', `/v1.0/applications/${app.id}/addPassword`, {
      passwordCredential: { displayName: 'conformance secret' },
    });
    expect(added.status).toBe(200);
    const secret = added.body as {
      keyId: string;
      secretText: string;
      hint: string;
      displayName: string;
      endDateTime: string;
    };
    expect(secret).toMatchObject({ displayName: 'conformance secret', hint: secret.secretText.slice(0, 3) });
    expect(secret.secretText.length).toBeGreaterThan(20);
    expect(added.body!['@odata.context']).toContain('#microsoft.graph.passwordCredential');

    const form = {
      grant_type: 'client_credentials',
      client_id: app.appId,
      client_secret: secret.secretText,
      scope: 'https://graph.microsoft.com/.default',
    };
    expect((await postTokenForm(sb, form)).status).toBe(200);

    const read = await graph(sb, token, 'GET', `/v1.0/applications/${app.id}?$select=passwordCredentials`);
    expect(read.body!.passwordCredentials).toEqual([
      expect.objectContaining({ keyId: secret.keyId, secretText: null }),
    ]);

    const removed = await graph(sb, token, 'POST', `/v1.0/applications/${app.id}/removePassword`, {
      keyId: secret.keyId,
    });
    expect(removed.status).toBe(204);
    const refused = await postTokenForm(sb, form);
    expect(refused.status).toBe(401);
    expect(refused.body!.error_codes).toEqual([7000215]);
  });

  // Azure: writing an app's secrets needs Application.ReadWrite.All, or ReadWrite.OwnedBy as an owner (403 otherwise).
  it('refuses addPassword on an app the caller does not own', async () => {
    const stranger = sb.directory.createApp({ displayName: `conf-${randomUUID().slice(0, 8)}` });
    const res = await graph(sb, token, 'POST', `/v1.0/applications/${stranger.id}/addPassword`, {
      passwordCredential: { displayName: 'x' },
    });
    expect(res.status).toBe(403);
    expect(graphError(res).code).toBe('Authorization_RequestDenied');
    expect(stranger.passwordCredentials).toEqual([]);
  });
});
