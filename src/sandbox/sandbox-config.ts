/**
 * The configuration file the sandbox writes (DESIGN §5a): a complete config for the seeded world, signing in as the
 * seeded operator identity with a client secret that exists only in this sandbox.
 */
import { stringify } from 'yaml';

export interface WrittenKeyVaultTarget {
  kind: 'keyvault';
  name: string;
  appId: string;
  vaultUrl: string;
  certificate: string;
  subject: string;
  webhookUrl: string;
  dataverseUrl: string;
}

export interface WrittenPowerPagesTarget {
  kind: 'power-pages';
  name: string;
  appId: string;
  environmentId: string;
  websiteId: string;
  siteUrl: string;
}

export interface SandboxConfigInput {
  tenantId: string;
  authorityHost: string;
  graphUrl: string;
  powerPlatformUrl: string;
  /** Path of ca.pem as written in the file (relative paths resolve against the config file). */
  caFile: string;
  operator: { clientId: string; clientSecret: string };
  /** In the order of the seeded world. */
  targets: (WrittenKeyVaultTarget | WrittenPowerPagesTarget)[];
}

export function sandboxConfigYaml(c: SandboxConfigInput): string {
  const doc = {
    tenantId: c.tenantId,
    cloud: {
      authorityHost: c.authorityHost,
      graphUrl: c.graphUrl,
      powerPlatformUrl: c.powerPlatformUrl,
      caFile: c.caFile,
    },
    auth: { kind: 'client-secret', clientId: c.operator.clientId, clientSecret: c.operator.clientSecret },
    state: { kind: 'file', dir: '.certrotate' },
    defaults: { rotateBefore: '60d', verifyTimeout: '10m', retireAfter: '0s' },
    targets: c.targets.map((t) =>
      t.kind === 'keyvault'
        ? {
            name: t.name,
            kind: 'keyvault',
            app: { appId: t.appId },
            keyVault: {
              url: t.vaultUrl,
              certificate: t.certificate,
              subject: t.subject,
              validityMonths: 24,
              keyType: 'RSA',
              keySize: 2048,
            },
            server: { kind: 'webhook', url: t.webhookUrl },
            verify: { dataverseUrl: t.dataverseUrl },
          }
        : {
            name: t.name,
            kind: 'power-pages',
            environmentId: t.environmentId,
            websiteId: t.websiteId,
            app: { appId: t.appId },
            siteUrl: t.siteUrl,
          },
    ),
  };
  return `# Written by \`certrotate sandbox start\`: the local Azure sandbox's seeded world. Secrets here exist only in it.\n${stringify(doc, { lineWidth: 0 })}`;
}
