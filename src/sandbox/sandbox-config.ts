/**
 * The configuration file the sandbox writes (DESIGN §5a): a complete config for the seeded world, signing in as the
 * seeded operator identity with a client secret that exists only in this sandbox.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** One target's entry in the written file, as its seeder builds it (the config schema's shape for its kind). */
export type ConfigTarget = Record<string, unknown>;

export interface SandboxConfigInput {
  tenantId: string;
  authorityHost: string;
  graphUrl: string;
  powerPlatformUrl: string;
  /** Path of ca.pem as written in the file (relative paths resolve against the config file). */
  caFile: string;
  operator: { clientId: string; clientSecret: string };
  /** In the order of the seeded world. */
  targets: ConfigTarget[];
  /** The `state` section (default: the file state in `.certrotate` beside the config). */
  state?: Record<string, unknown>;
  /** The `notify` section (the sandbox's receivers), when they run. */
  notify?: Record<string, unknown>[];
  /** The text of `D/notify.env` (their URLs and signing secret), written beside the config with mode 0600. */
  notifyEnv?: string;
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
    state: c.state ?? { kind: 'file', dir: '.certrotate' },
    defaults: { rotateBefore: '60d', verifyTimeout: '10m', retireAfter: '0s' },
    targets: c.targets,
    ...(c.notify ? { notify: c.notify } : {}),
  };
  return `# Written by \`certrotate sandbox start\`: the local Azure sandbox's seeded world. Secrets here exist only in it.\n${stringify(doc, { lineWidth: 0 })}`;
}

/** Writes `D/ca.pem`, `D/certrotate.yaml` (and `D/notify.env` with the receivers); returns the config's path. */
export async function writeSandboxFiles(dir: string, caPem: string, config: SandboxConfigInput): Promise<string> {
  const configPath = join(dir, 'certrotate.yaml');
  await writeFile(join(dir, 'ca.pem'), caPem);
  // The file carries the operator's (sandbox-only) secret.
  await writeFile(configPath, sandboxConfigYaml(config), { mode: 0o600 });
  // The receivers' URLs carry their credentials, like the real ones: readable by the owner only.
  if (config.notifyEnv) await writeFile(join(dir, 'notify.env'), config.notifyEnv, { mode: 0o600 });
  return configPath;
}
