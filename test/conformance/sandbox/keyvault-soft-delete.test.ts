/**
 * Conformance of the sandbox Key Vault's soft delete, written from the Key Vault REST reference (Delete Certificate,
 * Get Deleted Certificate(s), Recover Deleted Certificate, Purge Deleted Certificate, Get Deleted Secret(s); api 7.5
 * and the examples in Azure/azure-rest-api-specs `…/Microsoft.KeyVault/stable/7.5/examples`), the soft-delete overview
 * (learn.microsoft.com/azure/key-vault/general/soft-delete-overview) and error bodies recorded from the service —
 * raw HTTPS with the challenge flow by hand, no Azure SDK.
 *
 * The default vault is the one `startSandbox` serves (signed in to through the sandbox's Entra). Purge protection and
 * a short retention are per-vault settings the sandbox's top level does not expose, so those tests run against one
 * vault started with them, whose token verifier accepts the harness's fixed operator token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { RESOURCE, startKeyVaultHarness, type KeyVaultHarness } from '../../integration/helpers/keyvault-harness.js';
import { VaultWire, clientSecretTokens, createBody } from './keyvault-client.js';

const DAY = 86_400;

interface Attributes {
  enabled: boolean;
  created: number;
  recoveryLevel: string;
  recoverableDays?: number;
}
interface DeletedBundle {
  recoveryId: string;
  deletedDate: number;
  scheduledPurgeDate: number;
  id: string;
  sid?: string;
  cer?: string;
  value?: string;
  attributes: Attributes;
  tags?: Record<string, string>;
  policy?: { id: string };
}

const versionOf = (id: string) => id.split('/').at(-1)!;

describe('soft delete in a default vault (on, 90 days, no purge protection)', () => {
  let sb: Sandbox;
  let kv: VaultWire;
  let vaultUrl: string;

  async function createVersion(name: string): Promise<{ id: string; sid: string; cer: string }> {
    await kv.expect(202, 'POST', `/certificates/${name}/create`, createBody(`CN=${name}`, { tags: { team: 'ops' } }));
    sb.clock.advance(2_000);
    return kv.expect(200, 'GET', `/certificates/${name}`);
  }

  beforeAll(async () => {
    sb = await startSandbox({ kvCreateDelaySeconds: 1, propagationDelaySeconds: 0 });
    vaultUrl = sb.targets.find((t) => t.kind === 'keyvault')!.vaultUrl!;
    kv = new VaultWire(
      vaultUrl,
      sb.caPem,
      clientSecretTokens(sb.operator.clientId, sb.operator.clientSecret, sb.caPem),
    );
  });
  afterAll(() => sb?.stop());

  it('answers DELETE /certificates/{name} with the DeletedCertificateBundle: recoveryId, deletedDate, scheduledPurgeDate', async () => {
    // Azure: Delete Certificate example — the 200 body is the certificate bundle plus `recoveryId`
    // (…/deletedcertificates/{name}), `deletedDate` and `scheduledPurgeDate` (epoch seconds, 90 days apart), with
    // `recoveryLevel: "Recoverable+Purgeable"`. Soft-delete overview: "If no configuration is specified, the default
    // recovery period is set to 90 days"; purge protection "is not enabled by default".
    const live = await createVersion('sd-one');
    const before = Math.floor(sb.clock.now() / 1000);
    const deleted = await kv.expect<DeletedBundle>(200, 'DELETE', '/certificates/sd-one');
    expect(deleted.recoveryId).toBe(`${vaultUrl}/deletedcertificates/sd-one`);
    expect(deleted.id).toBe(live.id);
    expect(deleted.sid).toBe(live.sid);
    expect(deleted.cer).toBe(live.cer);
    expect(Math.abs(deleted.deletedDate - before)).toBeLessThanOrEqual(2);
    expect(deleted.scheduledPurgeDate - deleted.deletedDate).toBe(90 * DAY);
    expect(deleted.attributes).toMatchObject({ recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 });
    expect(deleted.tags).toEqual({ team: 'ops' });
    expect(deleted.policy?.id).toBe(`${vaultUrl}/certificates/sd-one/policy`);
  });

  it('takes the certificate and its secret out of the live collections', async () => {
    // Azure: soft-delete overview — a deleted object can only be recovered or purged; meanwhile it is not found.
    const cert = await kv.send('GET', '/certificates/sd-one');
    expect(cert.status).toBe(404);
    expect((cert.body as { error: { code: string } }).error.code).toBe('CertificateNotFound');
    expect((await kv.send('GET', '/secrets/sd-one')).status).toBe(404);
    const listed = (await kv.expect<{ value: Array<{ id: string }> }>(200, 'GET', '/certificates')).value;
    expect(listed.map((i) => i.id)).not.toContain(`${vaultUrl}/certificates/sd-one`);
  });

  it('serves it under /deletedcertificates/{name} and in the paged /deletedcertificates list', async () => {
    // Azure: Get Deleted Certificate (GET /deletedcertificates/{name}: the DeletedCertificateBundle) and Get Deleted
    // Certificates (GET /deletedcertificates?maxresults=…: items with `recoveryId`, `deletedDate`,
    // `scheduledPurgeDate`, an `id` without version, `x5t`, `attributes`; example GetDeletedCertificates-example.json).
    const one = await kv.expect<DeletedBundle>(200, 'GET', '/deletedcertificates/sd-one');
    expect(one.recoveryId).toBe(`${vaultUrl}/deletedcertificates/sd-one`);
    await createVersion('sd-two');
    await kv.expect(200, 'DELETE', '/certificates/sd-two');
    const pages = await kv.pages<DeletedBundle & { x5t: string }>('/deletedcertificates?maxresults=1');
    expect(pages.length).toBeGreaterThanOrEqual(2);
    const items = pages.flatMap((p) => p.value);
    const item = items.find((i) => i.id === `${vaultUrl}/certificates/sd-one`);
    expect(item).toMatchObject({
      recoveryId: `${vaultUrl}/deletedcertificates/sd-one`,
      deletedDate: one.deletedDate,
      scheduledPurgeDate: one.scheduledPurgeDate,
      attributes: { recoveryLevel: 'Recoverable+Purgeable' },
    });
    expect(item!.x5t).toMatch(/^[A-Za-z0-9_-]{27}$/);
    expect(items.map((i) => i.id)).toContain(`${vaultUrl}/certificates/sd-two`);
  });

  it('serves the certificate’s secret under /deletedsecrets, without its value', async () => {
    // Azure: Get Deleted Secret / Get Deleted Secrets — `recoveryId` …/deletedsecrets/{name}, `deletedDate`,
    // `scheduledPurgeDate`, `id` …/secrets/{name}/{version}, attributes; the example carries no `value`.
    const one = await kv.expect<DeletedBundle>(200, 'GET', '/deletedsecrets/sd-one');
    expect(one.recoveryId).toBe(`${vaultUrl}/deletedsecrets/sd-one`);
    expect(one.id).toMatch(new RegExp(`^${vaultUrl}/secrets/sd-one/[0-9a-f]{32}$`));
    expect(one.value).toBeUndefined();
    const list = (await kv.expect<{ value: DeletedBundle[] }>(200, 'GET', '/deletedsecrets')).value;
    expect(list.map((i) => i.id)).toContain(`${vaultUrl}/secrets/sd-one`);
    const missing = await kv.send('GET', '/deletedsecrets/sd-none');
    expect(missing.status).toBe(404);
    expect((missing.body as { error: { code: string } }).error.code).toBe('SecretNotFound');
  });

  it('refuses a create or an import under the deleted name with 409 Conflict / ObjectIsDeletedButRecoverable', async () => {
    // Azure, as recorded (e.g. rcl-letsencrypt-auto-ssl/Lets-Encrypt-Auto#16, pulumi/pulumi#14245):
    // 409 {"error":{"code":"Conflict","message":"Certificate {name} is currently in a deleted but recoverable state,
    // and its name cannot be reused; in this state, the certificate can only be recovered or purged.",
    // "innererror":{"code":"ObjectIsDeletedButRecoverable"}}}
    const expected = {
      error: {
        code: 'Conflict',
        message:
          'Certificate sd-one is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the certificate can only be recovered or purged.',
        innererror: { code: 'ObjectIsDeletedButRecoverable' },
      },
    };
    const create = await kv.send('POST', '/certificates/sd-one/create', createBody('CN=sd-one'));
    expect(create.status).toBe(409);
    expect(create.body).toEqual(expected);
    await createVersion('sd-seed');
    const pem = await kv.expect<{ value: string }>(200, 'GET', '/secrets/sd-seed');
    const imported = await kv.send('POST', '/certificates/sd-one/import', {
      value: pem.value,
      policy: { secret_props: { contentType: 'application/x-pem-file' } },
    });
    expect(imported.status).toBe(409);
    expect(imported.body).toEqual(expected);
  });

  it('recovers it with POST /deletedcertificates/{name}/recover: the same versions, secret and tags, the name usable again', async () => {
    // Azure: Recover Deleted Certificate — "performs the reversal of the Delete operation"; 200 with the
    // CertificateBundle of the recovered certificate.
    const deleted = await kv.expect<DeletedBundle>(200, 'GET', '/deletedcertificates/sd-one');
    const recovered = await kv.expect<{ id: string; sid: string; tags: Record<string, string> }>(
      200,
      'POST',
      '/deletedcertificates/sd-one/recover',
    );
    expect(recovered.id).toBe(deleted.id);
    expect(recovered.tags).toEqual({ team: 'ops' });
    expect((await kv.expect<{ id: string }>(200, 'GET', '/certificates/sd-one')).id).toBe(deleted.id);
    expect((await kv.expect<{ id: string }>(200, 'GET', '/secrets/sd-one')).id).toBe(recovered.sid);
    const gone = await kv.send('GET', '/deletedcertificates/sd-one');
    expect(gone.status).toBe(404);
    // As recorded: {"error":{"code":"CertificateNotFound","message":"Deleted Certificate not found: {name}"}}.
    expect(gone.body).toEqual({
      error: { code: 'CertificateNotFound', message: 'Deleted Certificate not found: sd-one' },
    });
    // A new version under the recovered name works again.
    await kv.expect(202, 'POST', '/certificates/sd-one/create', createBody('CN=sd-one'));
    sb.clock.advance(2_000);
    const versions = (await kv.expect<{ value: unknown[] }>(200, 'GET', '/certificates/sd-one/versions')).value;
    expect(versions).toHaveLength(2);
    expect(versionOf(deleted.id)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('purges it with DELETE /deletedcertificates/{name} (204, no body); then the name is free', async () => {
    // Azure: Purge Deleted Certificate — "performs an irreversible deletion of the specified certificate"; 204 No
    // Content (example PurgeDeletedCertificate-example.json).
    const purged = await kv.send('DELETE', '/deletedcertificates/sd-two');
    expect(purged.status).toBe(204);
    expect(purged.text).toBe('');
    expect((await kv.send('GET', '/deletedcertificates/sd-two')).status).toBe(404);
    expect((await kv.send('GET', '/deletedsecrets/sd-two')).status).toBe(404);
    expect((await kv.send('DELETE', '/deletedcertificates/sd-two')).status).toBe(404);
    await kv.expect(202, 'POST', '/certificates/sd-two/create', createBody('CN=sd-two'));
  });
});

describe('a vault with purge protection and a 7-day retention', () => {
  let h: KeyVaultHarness;
  let kv: VaultWire;

  beforeAll(async () => {
    h = await startKeyVaultHarness({ purgeProtection: true, softDeleteRetentionDays: 7 });
    kv = new VaultWire(h.url, h.caPem, async ({ resource }) => {
      // The challenge flow is the same; only the token comes from the harness's fixed verifier.
      expect(resource).toBe(RESOURCE);
      return 'token-operator';
    });
    await kv.expect(202, 'POST', '/certificates/pp-one/create', createBody('CN=pp-one'));
    await kv.expect(200, 'DELETE', '/certificates/pp-one');
  });
  afterAll(() => h?.close());

  it('reports CustomizedRecoverable (no +Purgeable) with recoverableDays 7 and a purge date 7 days out', async () => {
    // Azure: spec `DeletionRecoveryLevel` — "CustomizedRecoverable": recoverable, purge not permitted (purge
    // protection), 7 <= SoftDeleteRetentionInDays < 90; `recoverableDays` is the retention in days.
    const deleted = await kv.expect<DeletedBundle>(200, 'GET', '/deletedcertificates/pp-one');
    expect(deleted.attributes).toMatchObject({ recoveryLevel: 'CustomizedRecoverable', recoverableDays: 7 });
    expect(deleted.scheduledPurgeDate - deleted.deletedDate).toBe(7 * DAY);
  });

  it('refuses a purge with 403 Forbidden and keeps the certificate recoverable', async () => {
    // Azure, as recorded (hashicorp/terraform-provider-azurerm#19502, microsoft/AzureTRE#1951): 403 Forbidden,
    // `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will
    // automatically purge it after the retention period has passed.`
    const refused = await kv.send('DELETE', '/deletedcertificates/pp-one');
    expect(refused.status).toBe(403);
    const error = (refused.body as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('Forbidden');
    expect(error.message).toMatch(
      /^Operation "purge" is not allowed because purge protection is enabled for this vault\. Key Vault service will automatically purge it after the retention period has passed\./,
    );
    expect((await kv.send('GET', '/deletedcertificates/pp-one')).status).toBe(200);
  });

  it('purges it by itself once the retention ends, and the name can be used again', async () => {
    // Azure: soft-delete overview — "at the end of the retention interval the service performs a purge of the
    // soft-deleted … object".
    h.clock.advance(6 * DAY * 1000);
    expect((await kv.send('GET', '/deletedcertificates/pp-one')).status).toBe(200);
    expect((await kv.send('POST', '/certificates/pp-one/create', createBody('CN=pp-one'))).status).toBe(409);
    h.clock.advance(DAY * 1000 + 1000);
    expect((await kv.send('GET', '/deletedcertificates/pp-one')).status).toBe(404);
    expect((await kv.expect<{ value: unknown[] }>(200, 'GET', '/deletedcertificates')).value).toEqual([]);
    await kv.expect(202, 'POST', '/certificates/pp-one/create', createBody('CN=pp-one'));
  });
});
