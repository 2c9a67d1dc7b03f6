/**
 * Certificate policies on the wire (snake_case sections, camelCase `contentType`/`ipAddresses`, as the SDK sends
 * them), their validation, and the defaults the real service fills in (reference/keyvault.md §3.3).
 */
import { z } from 'zod';
import { badParameter } from './errors.js';

/** The two secret content types a certificate's linked secret can have. */
export type SecretContentType = 'application/x-pem-file' | 'application/x-pkcs12';

const sansSchema = z.looseObject({
  emails: z.array(z.string()).optional(),
  dns_names: z.array(z.string()).optional(),
  upns: z.array(z.string()).optional(),
  uris: z.array(z.string()).optional(),
  ipAddresses: z.array(z.string()).optional(),
});

/** A policy as a request may carry it: every section and field optional. */
export const policyInputSchema = z.looseObject({
  id: z.string().optional(),
  key_props: z
    .looseObject({
      exportable: z.boolean().optional(),
      kty: z.string().optional(),
      key_size: z.number().int().optional(),
      reuse_key: z.boolean().optional(),
      crv: z.string().optional(),
    })
    .optional(),
  secret_props: z.looseObject({ contentType: z.string().optional() }).optional(),
  x509_props: z
    .looseObject({
      subject: z.string().optional(),
      sans: sansSchema.optional(),
      ekus: z.array(z.string()).optional(),
      key_usage: z.array(z.string()).optional(),
      validity_months: z.number().int().optional(),
      basic_constraints: z.looseObject({ ca: z.boolean() }).optional(),
    })
    .optional(),
  lifetime_actions: z
    .array(
      z.looseObject({
        trigger: z
          .looseObject({
            lifetime_percentage: z.number().int().optional(),
            days_before_expiry: z.number().int().optional(),
          })
          .optional(),
        action: z.looseObject({ action_type: z.string().optional() }).optional(),
      }),
    )
    .optional(),
  issuer: z
    .looseObject({ name: z.string().optional(), cty: z.string().optional(), cert_transparency: z.boolean().optional() })
    .optional(),
  attributes: z.looseObject({ enabled: z.boolean().optional() }).optional(),
});

export type CertificatePolicyInput = z.infer<typeof policyInputSchema>;

/** A complete policy as the vault stores it (one per certificate, shared by all versions). */
export interface CertificatePolicy {
  key_props: { exportable: boolean; kty: 'RSA' | 'RSA-HSM'; key_size: number; reuse_key: boolean };
  secret_props: { contentType: SecretContentType };
  x509_props: {
    subject: string;
    sans?: { emails?: string[]; dns_names?: string[]; upns?: string[]; uris?: string[]; ipAddresses?: string[] };
    ekus: string[];
    key_usage: string[];
    validity_months: number;
    basic_constraints: { ca: boolean };
  };
  lifetime_actions: Array<{
    trigger: { lifetime_percentage?: number; days_before_expiry?: number };
    action: { action_type: string };
  }>;
  issuer: { name: string; cty?: string; cert_transparency?: boolean };
  attributes: { enabled: boolean; created: number; updated: number };
}

/** Key usages the service accepts, in X.509 bit order. */
export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

const RSA_KEY_SIZES = [2048, 3072, 4096];
const CONTENT_TYPES: SecretContentType[] = ['application/x-pem-file', 'application/x-pkcs12'];

/** Parses an untrusted JSON value as a policy, or throws a 400 naming the offending field. */
export function parsePolicyInput(value: unknown): CertificatePolicyInput {
  const parsed = policyInputSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badParameter(`Invalid policy: ${issue?.path.join('.') || 'policy'}: ${issue?.message ?? 'malformed'}`);
  }
  return parsed.data;
}

/**
 * Completes a policy with the service's defaults and rejects what this sandbox cannot issue (EC keys, RSA below 2048,
 * other issuers than `Self` for a create). `base` is the stored policy a PATCH or a later create starts from.
 */
export function completePolicy(
  input: CertificatePolicyInput,
  nowSeconds: number,
  base?: CertificatePolicy,
  opts: { requireSelfIssuer?: boolean } = {},
): CertificatePolicy {
  const kty = input.key_props?.kty ?? base?.key_props.kty ?? 'RSA';
  if (kty !== 'RSA' && kty !== 'RSA-HSM') {
    throw badParameter(`Key type ${kty} is not supported by this vault; use RSA.`);
  }
  const keySize = input.key_props?.key_size ?? base?.key_props.key_size ?? 2048;
  if (!RSA_KEY_SIZES.includes(keySize)) {
    throw badParameter(`RSA key size ${keySize} is not supported; use one of ${RSA_KEY_SIZES.join(', ')}.`);
  }
  const contentType = input.secret_props?.contentType ?? base?.secret_props.contentType ?? 'application/x-pkcs12';
  if (!CONTENT_TYPES.includes(contentType as SecretContentType)) {
    throw badParameter(`Secret content type ${contentType} is not supported; use one of ${CONTENT_TYPES.join(', ')}.`);
  }
  const x509 = input.x509_props;
  const subject = x509?.subject ?? base?.x509_props.subject;
  if (!subject) throw badParameter('The policy must specify x509_props.subject.');
  const validityMonths = x509?.validity_months ?? base?.x509_props.validity_months ?? 12;
  if (validityMonths < 1 || validityMonths > 1200) {
    throw badParameter(`validity_months ${validityMonths} is out of range (1..1200).`);
  }
  const keyUsage = x509?.key_usage ?? base?.x509_props.key_usage ?? ['digitalSignature', 'keyEncipherment'];
  const unknownUsage = keyUsage.find((u) => !(KEY_USAGES as readonly string[]).includes(u));
  if (unknownUsage) throw badParameter(`Unknown key usage ${unknownUsage}.`);
  const issuerName = input.issuer?.name ?? base?.issuer.name ?? 'Self';
  if (opts.requireSelfIssuer && issuerName.toLowerCase() !== 'self') {
    throw badParameter(
      `Issuer ${issuerName} is not supported by this vault; only self-signed (Self) certificates are issued.`,
    );
  }
  const lifetimeActions = (
    input.lifetime_actions ??
    base?.lifetime_actions ?? [{ trigger: { lifetime_percentage: 80 }, action: { action_type: 'AutoRenew' } }]
  ).map((a) => {
    const trigger = a.trigger ?? {};
    const pct = trigger.lifetime_percentage;
    if (pct !== undefined && (pct < 1 || pct > 99)) throw badParameter('lifetime_percentage must be within 1..99.');
    return {
      trigger: {
        ...(pct !== undefined ? { lifetime_percentage: pct } : {}),
        ...(trigger.days_before_expiry !== undefined ? { days_before_expiry: trigger.days_before_expiry } : {}),
      },
      action: { action_type: a.action?.action_type ?? 'AutoRenew' },
    };
  });
  const sans = x509?.sans ?? base?.x509_props.sans;
  const hasSans = sans && Object.values(sans).some((v) => Array.isArray(v) && v.length > 0);
  return {
    key_props: {
      exportable: input.key_props?.exportable ?? base?.key_props.exportable ?? true,
      kty,
      key_size: keySize,
      reuse_key: input.key_props?.reuse_key ?? base?.key_props.reuse_key ?? false,
    },
    secret_props: { contentType: contentType as SecretContentType },
    x509_props: {
      subject,
      ...(hasSans ? { sans: pickSans(sans) } : {}),
      ekus: x509?.ekus ?? base?.x509_props.ekus ?? ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
      key_usage: keyUsage,
      validity_months: validityMonths,
      basic_constraints: { ca: x509?.basic_constraints?.ca ?? base?.x509_props.basic_constraints.ca ?? false },
    },
    lifetime_actions: lifetimeActions,
    issuer: {
      name: issuerName,
      ...(input.issuer?.cty ? { cty: input.issuer.cty } : {}),
      ...(input.issuer?.cert_transparency !== undefined ? { cert_transparency: input.issuer.cert_transparency } : {}),
    },
    attributes: {
      enabled: input.attributes?.enabled ?? base?.attributes.enabled ?? true,
      created: base?.attributes.created ?? nowSeconds,
      updated: nowSeconds,
    },
  };
}

function pickSans(sans: z.infer<typeof sansSchema>): NonNullable<CertificatePolicy['x509_props']['sans']> {
  const out: NonNullable<CertificatePolicy['x509_props']['sans']> = {};
  for (const key of ['emails', 'dns_names', 'upns', 'uris', 'ipAddresses'] as const) {
    const list = sans[key];
    if (list && list.length > 0) out[key] = [...list];
  }
  return out;
}

/**
 * Puts a Key Vault subject (`cn=x, o=y`, as users type it) into the upper-case attribute form that X.500 name
 * parsers expect; the policy keeps the caller's spelling, as the real service does.
 */
export function normaliseSubject(subject: string): string {
  return subject.replace(/(^|[,+;]\s*)([A-Za-z][A-Za-z0-9.-]*)\s*=/g, (_m, sep: string, type: string) => {
    return `${sep.replace(';', ',')}${type.toUpperCase()}=`;
  });
}

/** Validity end for `validity_months` from `start`: 365/12 days a month, which matches the service's 12 months = 365 days. */
export function validityEnd(startSeconds: number, validityMonths: number): number {
  return startSeconds + Math.round((validityMonths * 365) / 12) * 86_400;
}
