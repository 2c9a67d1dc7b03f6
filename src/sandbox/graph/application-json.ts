/**
 * The `application` resource as Graph v1.0 serialises it: `$select` picks properties (and brings the certificate
 * `key` back on a single GET), `$expand=federatedIdentityCredentials` adds that navigation property.
 */
import type { Application } from '../directory.js';
import { graphDate, odataContext, type GraphContext } from './context.js';
import { keyCredentialJson } from './key-credentials.js';

/** One application as JSON, with `@odata.context` of a single entity. */
export function applicationJson(
  ctx: GraphContext,
  target: Application,
  select: string[] | undefined,
  expand: string[],
): Record<string, unknown> {
  const withKey = select !== undefined;
  const keys = ctx.directory.keyCredentialsAsSeen(target, (ctx.opts.readLagSeconds ?? 0) * 1000);
  const full: Record<string, unknown> = {
    id: target.id,
    appId: target.appId,
    displayName: target.displayName,
    createdDateTime: target.createdDateTime,
    signInAudience: 'AzureADMyOrg',
    deletedDateTime: null,
    keyCredentials: keys.map((k) => keyCredentialJson(k, withKey)),
    passwordCredentials: target.passwordCredentials.map((p) => ({
      customKeyIdentifier: null,
      displayName: p.displayName,
      endDateTime: graphDate(p.endMs),
      hint: p.secretText.slice(0, 3),
      keyId: p.keyId,
      secretText: null,
      startDateTime: graphDate(p.startMs),
    })),
  };
  const fics = target.federatedIdentityCredentials.map((f) => ({ ...f }));
  let out: Record<string, unknown>;
  if (select) {
    out = {};
    for (const s of select) {
      if (s === 'federatedIdentityCredentials') out[s] = fics;
      else if (s in full) out[s] = full[s];
    }
  } else out = full;
  if (expand.includes('federatedIdentityCredentials')) out.federatedIdentityCredentials = fics;
  const entity = select ? `applications(${select.join(',')})/$entity` : 'applications/$entity';
  return { '@odata.context': odataContext(entity), ...out };
}

/** An application as a member of a collection: no `@odata.context`, and `key` never returned in a list. */
export function applicationListItem(
  ctx: GraphContext,
  target: Application,
  select: string[] | undefined,
  expand: string[],
): Record<string, unknown> {
  const j = applicationJson(ctx, target, select, expand);
  delete j['@odata.context'];
  if (Array.isArray(j.keyCredentials)) {
    j.keyCredentials = (j.keyCredentials as Record<string, unknown>[]).map((k) => ({ ...k, key: null }));
  }
  return j;
}
