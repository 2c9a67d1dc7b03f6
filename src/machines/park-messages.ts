/**
 * The rotation's words for a person: why a run parked and what to do to continue it, and the notes a run ends or
 * refuses with. Pure text from the context, kept apart from the chart so the chart reads as states and transitions.
 * Messages carry ids, thumbprints and times only, never key material (I4).
 */
import { resumeTimeoutOf } from './rotation-context.js';
import type { ParkInfo, ResumeTarget, RotationContext } from './rotation-types.js';

/** The site and environment as a person finds them in the admin center (names when known, else ids). */
function siteLabel(context: RotationContext): string {
  const site = context.settings.site;
  const name = context.site?.name || site?.websiteId || '?';
  const env = context.site?.environmentName || site?.environmentId || '?';
  return `site "${name}" in environment "${env}"`;
}

/**
 * power-pages: what the operator must do in the admin center, exactly. The caller adds how to continue.
 */
export function updateKeyInstructions(context: RotationContext): string {
  const current = context.current;
  const unhealthy =
    context.site && !context.site.healthy
      ? ' The site is not healthy now; Update key is also how an expired key is recovered.'
      : '';
  return (
    `In the Power Platform admin center (https://admin.powerplatform.microsoft.com): Manage → Power Pages → ` +
    `${siteLabel(context)} → Security → Website Authentication Key → Update key → OK. ` +
    `The current key ${current?.thumbprint ?? '?'} expires ${current?.expiresOn ?? '?'}. ` +
    'The site restarts and is unavailable for 5–15 minutes. If the admin center reports that the update failed, ' +
    'press Retry Authentication Key Update there (contact Microsoft support if it keeps failing).' +
    unhealthy
  );
}

/** power-pages: the PATCH the retire step will send, as a diff of the app's certificate credentials. */
export function retirementDiff(context: RotationContext): string {
  const oldKeyId = context.current?.keyId;
  const keys = context.keySet ?? [];
  const line = (k: { keyId: string; thumbprint: string; endDateTime: string }) => {
    const role = k.keyId === oldKeyId ? 'old site key' : k.keyId === context.newKeyId ? 'new site key' : 'other';
    return `${k.keyId === oldKeyId ? '-' : '='} ${k.thumbprint} expires ${k.endDateTime} (${role})`;
  };
  return (
    `PATCH keyCredentials of app ${context.settings.appId} (re-read just before writing; every other credential ` +
    `stays):\n  ${keys.map(line).join('\n  ')}\nThe admin center should show the site's key expiring ` +
    `${context.newKey?.expiresOn ?? '?'}.`
  );
}

function describeWait(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

/** The parks a step can end in, each with what the operator must do and where `resume` continues. */
export const parkMessages = {
  manualInstall: (c: RotationContext): ParkInfo => ({
    reason: 'manualInstall',
    resumeTo: 'installing',
    message:
      `Install key ${c.newThumbprint ?? '?'} (Key Vault secret ${c.newKey?.secretId ?? '?'}) on the server of ` +
      `${c.settings.target}, then run \`certrotate resume ${c.settings.runId}\`.`,
  }),
  manualRestore: (c: RotationContext): ParkInfo => ({
    reason: 'manualRestore',
    resumeTo: 'rollingBack',
    message:
      `Put key ${c.current?.thumbprint ?? '?'} (Key Vault secret ${c.current?.secretId ?? '?'}) back on the server ` +
      `of ${c.settings.target}, then run \`certrotate resume ${c.settings.runId}\` to finish the rollback.`,
  }),
  platformKeyUpdate: (c: RotationContext): ParkInfo => ({
    reason: 'platformKeyUpdate',
    resumeTo: 'detectingPlatformKey',
    message:
      `${updateKeyInstructions(c)} Then run \`certrotate resume ${c.settings.runId}\`: it waits up to ` +
      `${describeWait(resumeTimeoutOf(c))} for the new key and the site, and removes the old key once the site is ` +
      'healthy on the new one.',
  }),
  retireFailed: (c: RotationContext, why: string): ParkInfo => ({
    reason: 'retireFailed',
    resumeTo: 'retiring',
    message:
      `The new key ${c.newThumbprint ?? '?'} works and is in use, but removing the old key ${c.oldThumbprint ?? '?'} ` +
      `failed (${why}). Fix the cause, then run \`certrotate resume ${c.settings.runId}\`.`,
  }),
  siteUnhealthy: (c: RotationContext, why: string): ParkInfo => ({
    reason: 'siteUnhealthy',
    resumeTo: 'verifying',
    message:
      `The platform's new key ${c.newThumbprint ?? '?'} is on app ${c.settings.appId}, but the site is not healthy ` +
      `(${why}), so the old key ${c.oldThumbprint ?? '?'} stays: certrotate never removes a key while the site is ` +
      'unhealthy. Check the site in the admin center; if Update key failed there, press Retry Authentication Key ' +
      `Update. Then run \`certrotate resume ${c.settings.runId}\`.`,
  }),
  /**
   * Verification (or the wait for Entra) could not reach a service for the whole `verifyTimeout`: `why` names it.
   * Nothing is undone: the new key is attached (and, past the wait for Entra, installed), the old key stays
   * registered, so both work; swapping the server back during an outage would only move it twice.
   */
  serviceUnavailable: (c: RotationContext, why: string, resumeTo: 'verifying' | 'attaching.propagating'): ParkInfo => ({
    reason: 'serviceUnavailable',
    resumeTo,
    message:
      `${resumeTo === 'verifying' ? 'Verifying' : 'Waiting for Entra to accept'} the new key ` +
      `${c.newThumbprint ?? '?'} could not reach a service for ${describeWait(c.settings.verifyTimeoutMs)} ` +
      `(${why}). That is an outage, not a rejection, so nothing was undone: the old key ${c.oldThumbprint ?? '?'} ` +
      `stays registered on app ${c.settings.appId}. Once the service answers again, run ` +
      `\`certrotate resume ${c.settings.runId}\`: it ${resumeTo === 'verifying' ? 'verifies' : 'checks'} again.`,
  }),
};

/** A confirming gate's DECLINE park: the run resumes to `resumeTo` and asks again. */
export function declinedTo(resumeTo: ResumeTarget) {
  return (context: RotationContext, reason: string | undefined) => declined(context, resumeTo, reason);
}

function declined(context: RotationContext, resumeTo: ResumeTarget, reason?: string): ParkInfo {
  const what = resumeTo === 'rollingBack' ? 'roll back' : 'continue';
  return {
    reason: 'declined',
    resumeTo,
    message:
      `The operator declined to ${what}${reason ? ` (${reason})` : ''}; ` +
      `run \`certrotate resume ${context.settings.runId}\` to be asked again.`,
  };
}

const DAY_MS = 86_400_000;

/** The notes a run carries in its result when it ends or refuses without changing anything. */
export const runNotes = {
  federated: 'the site uses the platform-managed identity (federated credential, no key): nothing to rotate',
  /** How far off the key is, and the way round it, from what preflight observed at `now`. */
  notDue: (c: RotationContext, now: number) => {
    const expiresOn = c.current?.expiresOn;
    const left = expiresOn ? Math.floor((Date.parse(expiresOn) - now) / DAY_MS) : undefined;
    const before = c.settings.rotateBeforeMs;
    const rotateBefore = before % DAY_MS === 0 ? `${before / DAY_MS}d` : `${Math.round(before / 1000)}s`;
    return (
      `key ${c.current?.thumbprint ?? '?'} expires ${expiresOn ?? '?'}: not due ` +
      `(${left !== undefined && Number.isFinite(left) ? `${left} days left; ` : ''}rotateBefore ${rotateBefore}); ` +
      '--force rotates anyway'
    );
  },
  nothingToUndo: 'Nothing had changed yet; the run is closed and the old key stays in service.',
  abandoned: 'Nothing had changed yet; the run is closed (abandoned) and the old key stays in service.',
  rollbackRefused:
    'Rollback refused: Power Pages made the new key and the site runs on it, so withdrawing it would take the ' +
    'site down; the old key stays until this run retires it.',
};
