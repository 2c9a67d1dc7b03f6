/**
 * The configuration file's schema (DESIGN §5a). Every object is strict: an unknown key is an error, because a typo
 * (`retireAfer`) must never silently fall back to a default and disable a safety setting.
 */
import { z } from 'zod';
import { SERVER_KINDS, serverSchemas } from '../adapters/servers/index.js';
import { STATE_KINDS, stateSchemas } from '../adapters/state/index.js';
import { notifyParkedAfterSchema, notifySchema } from '../notify/config.js';
import { duration, guid, httpsUrl } from './fields.js';

export { duration } from './fields.js';

const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
  error: "expected a name of letters, digits, '.', '_' or '-' (at most 63 characters)",
});

const cloudSchema = z.strictObject({
  authorityHost: httpsUrl.default('https://login.microsoftonline.com'),
  graphUrl: httpsUrl.default('https://graph.microsoft.com'),
  powerPlatformUrl: httpsUrl.default('https://api.powerplatform.com'),
  /** An extra CA certificate (PEM) to trust, e.g. the sandbox's; relative to the config file. */
  caFile: z.string().min(1).optional(),
});

const authSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('default'), clientId: guid.optional() }),
    z.strictObject({ kind: z.literal('azure-cli') }),
    z
      .strictObject({
        kind: z.literal('client-secret'),
        clientId: guid,
        clientSecret: z.string().min(1).optional(),
        /** Name of an environment variable holding the secret, so it stays out of the file. */
        clientSecretEnv: z.string().min(1).optional(),
      })
      .refine((a) => Boolean(a.clientSecret) !== Boolean(a.clientSecretEnv), {
        error: 'expected exactly one of clientSecret or clientSecretEnv',
      }),
    z.strictObject({
      kind: z.literal('client-certificate'),
      clientId: guid,
      certificatePath: z.string().min(1),
    }),
    z.strictObject({
      kind: z.literal('workload-identity'),
      clientId: guid.optional(),
      tokenFilePath: z.string().min(1).optional(),
    }),
    z.strictObject({ kind: z.literal('managed-identity'), clientId: guid.optional() }),
  ],
  {
    error:
      'expected auth.kind to be one of default, azure-cli, client-secret, client-certificate, workload-identity, managed-identity',
  },
);

const timingOverrides = {
  /** Rotate when the current key expires within this window. */
  rotateBefore: duration.optional(),
  /** How long verification keeps trying while Entra propagates the new key. */
  verifyTimeout: duration.optional(),
  /** Grace period between a verified new key and retiring the old one (0s: retire at once). */
  retireAfter: duration.optional(),
};

/** The `server` section: one schema per server kind (src/adapters/servers/), listed once there. */
const serverSchema = z.discriminatedUnion('kind', serverSchemas, {
  error: `expected server.kind to be one of ${SERVER_KINDS.map((k) => k.kind).join(', ')}`,
});

/** The `state` section: one schema per state backend (src/adapters/state/), listed once there; `file` by default. */
const stateSchema = z.discriminatedUnion('kind', stateSchemas, {
  error: `expected ${STATE_KINDS.map((k) => k.kind).join(' or ')}`,
});

const keyVaultTargetSchema = z.strictObject({
  name: targetName,
  kind: z.literal('keyvault'),
  app: z.strictObject({ appId: guid }),
  keyVault: z
    .strictObject({
      url: httpsUrl,
      certificate: z
        .string()
        .regex(/^[0-9a-zA-Z-]{1,127}$/, { error: 'expected a Key Vault certificate name (letters, digits and -)' }),
      /** Default: `CN=<certificate>`. */
      subject: z.string().regex(/^CN=/i, { error: 'expected an X.500 subject starting with CN=' }).optional(),
      validityMonths: z.number().int().min(1).max(120).default(12),
      keyType: z.literal('RSA', { error: 'expected RSA (Entra certificate credentials are RSA)' }).default('RSA'),
      keySize: z
        .union([z.literal(2048), z.literal(3072), z.literal(4096)], { error: 'expected 2048, 3072 or 4096' })
        .default(2048),
    })
    .transform((kv) => ({ ...kv, subject: kv.subject ?? `CN=${kv.certificate}` })),
  server: serverSchema,
  verify: z.strictObject({ dataverseUrl: httpsUrl }),
  ...timingOverrides,
});

const powerPagesTargetSchema = z.strictObject({
  name: targetName,
  kind: z.literal('power-pages'),
  environmentId: guid,
  websiteId: guid,
  app: z.strictObject({ appId: guid }),
  /** The site's URL for health checks; default: read from the Power Platform API. */
  siteUrl: httpsUrl.optional(),
  /** How long `resume` waits for the admin center's Update key before parking again. */
  resumeTimeout: duration.default(30 * 60_000),
  ...timingOverrides,
});

const targetSchema = z.discriminatedUnion('kind', [keyVaultTargetSchema, powerPagesTargetSchema], {
  error: 'expected kind to be keyvault or power-pages',
});

/** The whole configuration file. */
export const configSchema = z
  .strictObject({
    tenantId: guid,
    cloud: cloudSchema.default({
      authorityHost: 'https://login.microsoftonline.com',
      graphUrl: 'https://graph.microsoft.com',
      powerPlatformUrl: 'https://api.powerplatform.com',
    }),
    auth: authSchema.default({ kind: 'default' }),
    state: stateSchema.default({ kind: 'file', dir: '.certrotate' }),
    defaults: z
      .strictObject({
        rotateBefore: duration.default(60 * 86_400_000),
        verifyTimeout: duration.default(10 * 60_000),
        retireAfter: duration.default(0),
        /** How long a retried Graph write reads before it trusts that its key is absent (Graph's read lag). */
        readSettle: duration.default(2 * 60_000),
        /**
         * A run with no record in this state directory counts as in flight for this long after it started
         * (default 24h, src/machines/credential-inventory.ts); past it, what it left is orphaned.
         */
        staleRunAfter: duration.optional(),
      })
      .default({ rotateBefore: 60 * 86_400_000, verifyTimeout: 10 * 60_000, retireAfter: 0, readSettle: 2 * 60_000 }),
    targets: z.array(targetSchema).default([]),
    /** Notification channels (src/notify/): Teams, Slack, signed webhooks. */
    notify: notifySchema.default([]),
    /** A run parked longer than this gets a `stillParked` reminder from `scan --notify` (default 24h). */
    notifyParkedAfter: notifyParkedAfterSchema.default(86_400_000),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.targets.forEach((t, i) => {
      const first = seen.get(t.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'name'],
          message: `duplicate target name (targets[${first}] has it already); expected unique names`,
        });
      }
      seen.set(t.name, i);
    });
  });

/** The validated configuration, durations in milliseconds. */
export type Config = z.output<typeof configSchema>;
/** One target of either kind. */
export type TargetConfig = Config['targets'][number];
/** A `keyvault` target. */
export type KeyVaultTargetConfig = Extract<TargetConfig, { kind: 'keyvault' }>;
/** A `power-pages` target. */
export type PowerPagesTargetConfig = Extract<TargetConfig, { kind: 'power-pages' }>;
