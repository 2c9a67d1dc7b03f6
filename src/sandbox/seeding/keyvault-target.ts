/**
 * A keyvault target: its app with a current key, the certificate imported into its vault, the app server's own
 * identity with `secrets/get` on that vault, and the app server (webhook) holding the current key.
 */
import { createAppServer } from '../app-server.js';
import { genericFault } from '../hosts.js';
import { certificateExpiringIn, registerCurrentKey, type KeyVaultTargetSeed } from '../world.js';
import { ownedApp, type Seeder } from './context.js';

export const keyVaultTargetSeeder: Seeder<KeyVaultTargetSeed> = {
  async seed(ctx, seed) {
    const { directory, history } = ctx;
    const app = ownedApp(ctx, seed.name);
    const material = await certificateExpiringIn(ctx.pool, ctx.now, seed.subject, seed.daysLeft, seed.validityDays);
    registerCurrentKey(directory, app, material);
    const vault = await ctx.vaults.vault(seed.vault);
    await vault.service.importCertificate(seed.certificate, {
      certDer: material.certDer,
      privateKeyPkcs8: material.privateKeyPkcs8,
      contentType: 'application/x-pem-file',
    });
    const identity = directory.createApp({ displayName: `${seed.name}-server` });
    const identitySecret = directory.addPassword(identity, 'key vault access');
    ctx.vaults.grant(seed.vault, identity.appId, ['secrets/get']);
    const serverHost = ctx.hosts.add('server', seed.name, genericFault);
    const server = createAppServer({
      name: seed.name,
      tenantId: directory.tenantId,
      appId: app.appId,
      authorityHost: ctx.entraUrl,
      dataverseUrl: () => ctx.dataverseUrl,
      caPem: ctx.tls.caPem,
      vaultIdentity: { clientId: identity.appId, clientSecret: identitySecret },
      history,
      initialKey: { thumbprint: material.thumbprint, pemBundle: material.pemBundle },
    });
    server.register(serverHost.app);
    const serverUrl = await serverHost.listen();
    ctx.servers.push(server);
    history.record({ kind: 'serverKey', server: seed.name, thumbprint: material.thumbprint });
    return {
      target: {
        name: seed.name,
        kind: 'keyvault',
        appId: app.appId,
        objectId: app.id,
        vaultUrl: vault.url,
        certificate: seed.certificate,
        serverUrl,
      },
      config: {
        name: seed.name,
        kind: 'keyvault',
        app: { appId: app.appId },
        keyVault: {
          url: vault.url,
          certificate: seed.certificate,
          subject: seed.subject,
          validityMonths: 24,
          keyType: 'RSA',
          keySize: 2048,
        },
        server: { kind: 'webhook', url: `${serverUrl}/admin/s2s-key` },
        verify: { dataverseUrl: ctx.dataverseUrl },
      },
    };
  },
};
