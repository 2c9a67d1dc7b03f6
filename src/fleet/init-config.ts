/**
 * `certrotate init`: the commented `certrotate.yaml` text for what discover found. Key Vault-backed apps become
 * keyvault targets with a `manual` server (the operator picks the real server kind), Power Pages site apps become
 * complete power-pages targets. Scalars are written as JSON strings, which are valid YAML, so no value can break
 * the document. Pure: the command validates the text with the real loader before it is written.
 */
import type { Config } from '../config/schema.js';
import type { DiscoveryReport } from './discovery.js';

/** What the generated file needs besides the report. */
export interface InitConfigInput {
  report: DiscoveryReport;
  tenantId: string;
  cloud: Config['cloud'];
  /** The identity section to write (never a secret's text: see {@link authForInit}). */
  auth: Record<string, string>;
  /** `verify.dataverseUrl` of the keyvault targets. */
  dataverseUrl?: string;
  /** Written at the top, e.g. the discover time. */
  generatedAt: string;
}

/** The environment variable a generated client-secret auth reads the secret from. */
export const INIT_SECRET_ENV = 'CERTROTATE_CLIENT_SECRET';

/** The auth section for the generated file: the same identity, but a secret moves to an environment variable. */
export function authForInit(auth: Config['auth']): Record<string, string> {
  if (auth.kind === 'client-secret') {
    return { kind: auth.kind, clientId: auth.clientId, clientSecretEnv: auth.clientSecretEnv ?? INIT_SECRET_ENV };
  }
  return Object.fromEntries(Object.entries(auth).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

const q = (v: string) => JSON.stringify(v);

/** A target name from an app's display name: letters, digits, '.', '_' and '-', unique in the file. */
export function targetNameFor(displayName: string, taken: Set<string>): string {
  const base =
    displayName
      .replace(/^Portals - /, '')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 56)
      .replace(/[-._]+$/, '') || 'target';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

/** The number of targets {@link initConfigText} writes for a report. */
export function initTargetCount(report: DiscoveryReport): number {
  return report.apps.filter((a) => a.kind === 'powerPages' || a.kind === 'keyVault').length;
}

/** The commented YAML. Throws when keyvault targets need a Dataverse URL and none is known. */
export function initConfigText(input: InitConfigInput): string {
  const { report } = input;
  const lines: string[] = [
    `# certrotate.yaml written by \`certrotate init\` at ${input.generatedAt} from what \`certrotate discover\` found.`,
    '# Check every target, then run `certrotate scan` and `certrotate doctor`.',
    `tenantId: ${q(input.tenantId)}`,
    'cloud:',
    `  authorityHost: ${q(input.cloud.authorityHost)}`,
    `  graphUrl: ${q(input.cloud.graphUrl)}`,
    `  powerPlatformUrl: ${q(input.cloud.powerPlatformUrl)}`,
    ...(input.cloud.caFile ? [`  caFile: ${q(input.cloud.caFile)}`] : []),
    '# The identity certrotate signs in as (the one discover used).',
    ...(input.auth.clientSecretEnv
      ? [
          `# The client secret is read from the environment variable ${input.auth.clientSecretEnv}, never from this file.`,
        ]
      : []),
    'auth:',
    ...Object.entries(input.auth).map(([k, v]) => `  ${k}: ${q(v)}`),
    'targets:',
  ];
  const taken = new Set<string>();
  let written = 0;
  for (const app of report.apps) {
    if (app.kind === 'powerPages' && app.site) {
      written++;
      lines.push(
        `  # Power Pages site ${app.site.name}: Power Pages holds the key; certrotate parks for the admin center's Update key.`,
        `  - name: ${q(targetNameFor(app.site.name || app.displayName, taken))}`,
        '    kind: "power-pages"',
        `    environmentId: ${q(app.site.environmentId)}`,
        `    websiteId: ${q(app.site.websiteId)}`,
        `    app: { appId: ${q(app.appId)} }`,
        ...(app.site.siteUrl ? [`    siteUrl: ${q(app.site.siteUrl)}`] : []),
      );
    }
    if (app.kind === 'keyVault') {
      const cert = app.credentials.find((c) => c.vault);
      if (!cert?.vault) continue;
      if (!input.dataverseUrl) {
        throw new Error(
          `target for app ${app.displayName}: verify.dataverseUrl is unknown; pass --dataverse-url URL (the Dataverse environment the app signs in to)`,
        );
      }
      written++;
      lines.push(
        `  # ${app.displayName}: certificate ${cert.vault.certificate} in ${cert.vault.url} (thumbprint ${cert.thumbprint}).`,
        `  - name: ${q(targetNameFor(app.displayName, taken))}`,
        '    kind: "keyvault"',
        `    app: { appId: ${q(app.appId)} }`,
        '    keyVault:',
        `      url: ${q(cert.vault.url)}`,
        `      certificate: ${q(cert.vault.certificate)}`,
        '    # TODO: pick the server kind that installs the key on this app server (webhook, command or file);',
        '    # `manual` prints instructions and waits for the operator at each rotation.',
        '    server: { kind: "manual" }',
        '    verify:',
        `      dataverseUrl: ${q(input.dataverseUrl)}`,
      );
    }
  }
  if (written === 0) {
    lines[lines.length - 1] = 'targets: []';
    lines.push(
      '# discover found no Key Vault-backed or Power Pages app; pass --vault URL to match Key Vault certificates.',
    );
  }
  const skipped = report.apps.length - written;
  if (skipped > 0) {
    lines.push(
      `# Not written: ${skipped} app(s) that are federated or unmanaged (no vault given holds their certificate, or`,
      '# they use client secrets); `certrotate discover` lists them.',
    );
  }
  return `${lines.join('\n')}\n`;
}
