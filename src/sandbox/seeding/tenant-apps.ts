/**
 * A tenant full of app registrations for `certrotate discover` (sandbox option `tenantApps`, `sandbox start
 * --tenant-apps N`): N apps named `fleet-0001`… in a fixed rotation of kinds — certificate only, secret only, both,
 * an expired and an expiring certificate, an expiring secret, federated only, none — some owned by the operator and
 * some by a separate owner identity; the first three certificate-only apps have their certificate in the vault
 * `kv-fleet` (so `--vault` matches them), every 25th app's service principal has credentials of its own, and one
 * Power Pages site (`fleet-site`) is listed by the Power Platform websites API. Not config targets: discover finds
 * them. The seeding is deterministic, so tests can compute what discover must report from the directory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { PasswordCredential } from '../directory.js';
import { createSelfSignedCertificate } from '../pki.js';
import type { SeedContext } from './context.js';
import { powerPagesTargetSeeder } from './power-pages-target.js';

/** The vault holding the certificates of the Key Vault-backed fleet apps. */
export const FLEET_VAULT = 'kv-fleet';
/** How many certificate-only fleet apps have their certificate in {@link FLEET_VAULT}. */
export const FLEET_VAULT_APPS = 3;

/** What each app in the rotation holds, by index modulo the list's length. */
const KINDS = ['cert', 'secret', 'both', 'certExpired', 'certExpiring', 'secretExpiring', 'federated', 'none'] as const;
export type FleetAppKind = (typeof KINDS)[number];

/** The kind of the i-th fleet app (0-based). */
export const fleetAppKind = (i: number): FleetAppKind => KINDS[i % KINDS.length]!;

const DAY = 86_400_000;

/** Seeds `count` fleet apps and the fleet's Power Pages site. */
export async function seedTenantApps(ctx: SeedContext, count: number): Promise<void> {
  // Without fleet apps the world stays exactly the default one (no owner identity, no vault, no key taken).
  if (count <= 0) return;
  const { directory, now } = ctx;
  // One key pair signs every fleet certificate: each certificate (and so each thumbprint) is still distinct, and
  // generating hundreds of RSA keys would cost the sandbox seconds of start-up for nothing discover can tell apart.
  const keys = await ctx.pool.takeKeyPair(2048);
  const owner = directory.createApp({ displayName: 'fleet-owner' });
  const vault = await ctx.vaults.vault(FLEET_VAULT);
  let vaultBacked = 0;

  const certificate = async (name: string, daysLeft: number) => {
    const notAfter = new Date(now + daysLeft * DAY);
    return createSelfSignedCertificate(keys, {
      subject: `CN=${name}`,
      notBefore: new Date(notAfter.getTime() - 365 * DAY),
      notAfter,
    });
  };
  const secret = (daysLeft: number): Omit<PasswordCredential, 'keyId' | 'secretText'> => ({
    displayName: 'client secret',
    startMs: now - 100 * DAY,
    endMs: now + daysLeft * DAY,
  });

  for (let i = 0; i < count; i++) {
    const name = `fleet-${String(i + 1).padStart(4, '0')}`;
    const app = directory.createApp({ displayName: name });
    // Alternate owners so discover's owner column has something to show; the operator owns the even ones.
    directory.addOwner(app, i % 2 === 0 ? ctx.operator : owner);
    const kind = fleetAppKind(i);
    const addCert = async (daysLeft: number) => {
      const material = await certificate(name, daysLeft);
      const credential = directory.keyCredentialFromCertificate(material.certDer, { propagated: true });
      directory.setKeyCredentials(app, [...app.keyCredentials, credential]);
      return material;
    };
    if (kind === 'cert') {
      const material = await addCert(200);
      if (vaultBacked < FLEET_VAULT_APPS) {
        vaultBacked++;
        await vault.service.importCertificate(`${name}-s2s`, {
          certDer: material.certDer,
          privateKeyPkcs8: material.privateKeyPkcs8,
          contentType: 'application/x-pem-file',
        });
        directory.addOwner(app, ctx.operator);
      }
    }
    if (kind === 'secret') directory.addPasswordCredential(app, secret(300));
    if (kind === 'both') {
      await addCert(120);
      directory.addPasswordCredential(app, secret(90));
    }
    if (kind === 'certExpired') await addCert(-5);
    if (kind === 'certExpiring') await addCert(10);
    if (kind === 'secretExpiring') directory.addPasswordCredential(app, secret(15));
    if (kind === 'federated') {
      directory.addFederatedCredential(app, {
        name: 'github-deploy',
        issuer: 'https://token.actions.githubusercontent.com',
        subject: `repo:contoso/${name}:environment:prod`,
        audiences: ['api://AzureADTokenExchange'],
        description: null,
      });
    }
    if (i % 25 === 24) {
      // A service principal with credentials of its own (e.g. a SAML signing certificate and a secret).
      const material = await certificate(`${name}-sp`, 40);
      app.servicePrincipalCredentials = {
        keyCredentials: [directory.keyCredentialFromCertificate(material.certDer, { propagated: true })],
        passwordCredentials: [
          {
            keyId: randomUUID(),
            secretText: randomBytes(30).toString('base64url'),
            ...secret(-2),
            displayName: 'sp secret',
          },
        ],
      };
    }
  }
  // The fleet's one Power Pages site: its "Portals - fleet-site" app, found through the websites API.
  await powerPagesTargetSeeder.seed(ctx, {
    kind: 'power-pages',
    name: 'fleet-site',
    siteName: 'fleet-site',
    daysLeft: 45,
  });
}
