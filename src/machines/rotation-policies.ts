/**
 * Pure policy predicates and selectors over what preflight observed (cert-manager style: each reads as the
 * condition that is true when it applies). Shared by the machine's guards and by the plan. The words for a person
 * are in park-messages.ts and steps.ts.
 */
import type { CertificateVersion, KeyCredential, KeyRef } from '../adapters/ports.js';
import { missing } from './rotation-context.js';
import type { CurrentKey, RotationContext, RotationInput, TargetObservation } from './rotation-types.js';

/** The Key Vault tag that marks the version a run created, so a re-run finds it instead of creating another. */
export const RUN_ID_TAG = 'certrotate-run';

/** True when the credential's validity window contains `now`. */
export function credentialValidAt(credential: KeyCredential, now: number): boolean {
  return Date.parse(credential.startDateTime) <= now && now < Date.parse(credential.endDateTime);
}

/** Certificate credentials Entra can verify an assertion with. */
export function isCertificateCredential(credential: KeyCredential): boolean {
  return credential.type === 'AsymmetricX509Cert' && credential.usage === 'Verify';
}

function sameThumbprint(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toUpperCase() === b.toUpperCase();
}

/** Why a site on the platform-managed identity has no key to rotate (the plan's line, the preflight verdict's message). */
export const PLATFORM_IDENTITY_MESSAGE = 'the site uses the platform-managed identity (federated): nothing to rotate';

/** The result of choosing the key in service at preflight: the key or why there is none we can rotate from. */
export type CurrentKeySelection = { ok: true; key: CurrentKey } | { ok: false; message: string };

/**
 * The key in service: the one the server reports, else (a `manual` server) the newest enabled Key Vault version
 * registered on the app, else (power-pages) the app's certificate credential that lasts longest.
 */
export function selectCurrentKey(observation: TargetObservation, settings: RotationInput): CurrentKeySelection {
  const credentials = observation.app.keyCredentials.filter(isCertificateCredential);
  const credentialFor = (thumbprint: string) => credentials.find((c) => sameThumbprint(c.thumbprint, thumbprint));
  const toKey = (credential: KeyCredential, version?: CertificateVersion): CurrentKey => ({
    thumbprint: credential.thumbprint.toUpperCase(),
    keyId: credential.keyId,
    expiresOn: credential.endDateTime,
    ...(version ? { version: version.version, secretId: version.secretId } : {}),
  });

  if (settings.kind === 'power-pages') {
    if (usesPlatformIdentity(observation)) {
      return { ok: false, message: PLATFORM_IDENTITY_MESSAGE };
    }
    const longest = [...credentials].sort((a, b) => Date.parse(b.endDateTime) - Date.parse(a.endDateTime))[0];
    return longest
      ? { ok: true, key: toKey(longest) }
      : { ok: false, message: `app ${settings.appId} has no certificate credential` };
  }

  const versionFor = (thumbprint: string) =>
    [...observation.versions].reverse().find((v) => sameThumbprint(v.thumbprint, thumbprint));
  const serverThumbprint = observation.server.thumbprint;
  if (serverThumbprint !== undefined) {
    const credential = credentialFor(serverThumbprint);
    if (!credential) {
      return {
        ok: false,
        message:
          `the server uses key ${serverThumbprint.toUpperCase()}, which is not registered on app ${settings.appId}: ` +
          'fix the server or the app registration first (certrotate never rotates from a broken state)',
      };
    }
    return { ok: true, key: toKey(credential, versionFor(serverThumbprint)) };
  }
  // A manual server cannot say which key it uses: take the newest enabled vault version the app knows.
  const candidates = [...observation.versions].reverse().filter((v) => v.enabled && credentialFor(v.thumbprint));
  const newest = candidates[0];
  if (newest) return { ok: true, key: toKey(credentialFor(newest.thumbprint)!, newest) };
  return {
    ok: false,
    message: `no enabled version of the Key Vault certificate is registered on app ${settings.appId}`,
  };
}

/**
 * True when the app is on the platform-managed identity: federated credentials and no certificate credential, so
 * there is no key to rotate (powerpages-anchors §1.7; a heuristic, as the platform documents no flag for it).
 */
export function usesPlatformIdentity(observation: TargetObservation): boolean {
  return (
    observation.app.hasFederatedCredentials && !observation.app.keyCredentials.some((c) => isCertificateCredential(c))
  );
}

/**
 * power-pages: why certrotate could not retire the old key after an admin presses Update key (its identity may not
 * PATCH the app), or undefined when it can or when that could not be determined.
 */
export function cannotRetireReason(observation: TargetObservation, settings: RotationInput): string | undefined {
  const access = observation.ownership;
  if (settings.kind !== 'power-pages' || !access || access.canWrite) return undefined;
  return (
    `certrotate's identity may not change app ${settings.appId} (${access.detail}), so it could not remove the old ` +
    'key after Update key: make it an owner of the app (with Application.ReadWrite.OwnedBy) before rotating'
  );
}

/** True when the key in service expires within `rotateBefore` (or `force` is set). */
export function rotationDue(current: CurrentKey, now: number, settings: RotationInput): boolean {
  return settings.force === true || Date.parse(current.expiresOn) - now <= settings.rotateBeforeMs;
}

/** A reference to the key in service, when the vault holds it (it can sign proofs). */
export function currentKeyRef(context: RotationContext): KeyRef | undefined {
  const current = context.current;
  return current?.secretId ? { thumbprint: current.thumbprint, secretId: current.secretId } : undefined;
}

/** A reference to the run's new key, once generated. */
export function newKeyRef(context: RotationContext): KeyRef | undefined {
  const key = context.newKey;
  return key?.secretId
    ? { thumbprint: key.thumbprint, secretId: key.secretId, ...(key.notBefore ? { notBefore: key.notBefore } : {}) }
    : undefined;
}

/** True when the run changed something that a rollback would undo. */
export function somethingToUndo(context: RotationContext): boolean {
  // power-pages: the platform made the new key and the site runs on it; withdrawing it would take the site down.
  if (context.settings.kind === 'power-pages') return false;
  return context.progress.generated || context.progress.attached || context.progress.installed;
}

/** The run's new key, which every step after generation needs. */
export function requireNewKey(context: RotationContext): KeyRef {
  return newKeyRef(context) ?? missing('the new key');
}

// The guided prompt's summary moved to the step catalogue; the driver still imports it from here.
export { confirmSummary } from './steps.js';
