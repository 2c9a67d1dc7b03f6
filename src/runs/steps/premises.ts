/**
 * The premise checks of the mutating steps (I7): each compares what the step has just read from the world with what
 * the run recorded at preflight (`Premises`) and throws the non-retryable `superseded` when the world has moved on,
 * naming what changed and who (the run id of the world marker or the vault version's tag, when there is one).
 *
 * The checks only read what the step read anyway; a second read happens only on the way out (to name who), never on
 * the path that acts. They are pure over those reads, so a step re-run after a crash simply checks again.
 */
import { AdapterError, type AppRegistration, type CertificateVersion } from '../../adapters/ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import { SUPERSEDED } from '../../machines/flows/superseded.js';
import { credentialValidAt, isCertificateCredential } from '../../machines/rotation-policies.js';
import type { Premises } from '../../machines/rotation-types.js';
import { runIdOfCredential, runIdOfVersion } from '../../machines/world-markers.js';
import { sameThumbprint } from './step-ports.js';

/** Throws the step's `superseded` failure (never retryable: the facts the run started from are gone). */
export function superseded(message: string): never {
  throw new AdapterError({ code: SUPERSEDED, message, retryable: false });
}

/** Who added `thumbprint`, from the marks certrotate leaves: "run X", "not certrotate", or "an unknown party". */
export function addedBy(
  thumbprint: string,
  seen: { app?: AppRegistration; versions?: readonly CertificateVersion[] },
): string {
  const credential = seen.app?.keyCredentials.find((c) => sameThumbprint(c.thumbprint, thumbprint));
  const version = seen.versions?.find((v) => sameThumbprint(v.thumbprint, thumbprint));
  const runId = runIdOfCredential(credential?.displayName) ?? runIdOfVersion(version?.tags);
  if (runId) return `run ${runId}`;
  if (credential || version) return 'someone other than certrotate (no certrotate marker)';
  return 'an unknown party (no credential or version of it found)';
}

/**
 * Who added `thumbprint`, reading the app and the vault for their marks. Only called once a premise has failed: the
 * step is about to stop, so the extra reads cost nothing on the path that acts. A read that fails leaves "unknown".
 */
export async function lookUpAdder(
  ports: RotationPorts,
  where: { appId?: string; certificate?: string },
  thumbprint: string,
  signal: AbortSignal,
): Promise<string> {
  const app = where.appId ? await ports.apps.getApp(where.appId, { signal }).catch(() => undefined) : undefined;
  const known = addedBy(thumbprint, app ? { app } : {});
  if (known.startsWith('run ') || !where.certificate) return known;
  const versions = await ports.certificates.listVersions(where.certificate, { signal }).catch(() => undefined);
  return addedBy(thumbprint, { ...(app ? { app } : {}), ...(versions ? { versions } : {}) });
}

/**
 * generate: enabled versions of the certificate newer than the newest one preflight saw, not made by this run.
 * A newer disabled version is someone's withdrawn or rolled-back key, which changed nothing in service.
 */
export function newerForeignVersions(
  versions: readonly CertificateVersion[],
  premises: Premises,
  runId: string,
): CertificateVersion[] {
  const latest = premises.latestVersion;
  const at = latest ? versions.findIndex((v) => v.version === latest.version) : -1;
  const newer = latest
    ? versions.filter((v, i) => (at >= 0 ? i > at : Date.parse(v.createdOn) > Date.parse(latest.createdOn)))
    : versions;
  return newer.filter((v) => v.enabled && runIdOfVersion(v.tags) !== runId);
}

/** generate: refuses when another version took over the certificate since preflight. */
export function checkVaultPremise(
  versions: readonly CertificateVersion[],
  premises: Premises,
  runId: string,
  certificate: string,
): void {
  const newer = newerForeignVersions(versions, premises, runId).at(-1);
  if (!newer) return;
  superseded(
    `Key Vault certificate ${certificate} has a newer version ${newer.version} (key ${newer.thumbprint}), made by ` +
      `${addedBy(newer.thumbprint, { versions })} after this run's preflight`,
  );
}

/**
 * generate (await): the version a pending create produced must carry this run's tag. A create that carries no tag
 * while pending was adopted on the belief that it is this run's own (a process that died before its snapshot); but
 * another agent, with its own state directory and lock, may have started it at the same moment. Its version, tagged
 * with that other run, is that run's key: taking it as ours would attach and install one key for two runs (I3, I8).
 */
export function checkCreatedVersion(version: CertificateVersion, runId: string, certificate: string): void {
  const maker = runIdOfVersion(version.tags);
  if (maker === undefined || maker === runId) return;
  superseded(
    `the pending create this run waited on produced version ${version.version} of Key Vault certificate ` +
      `${certificate} (key ${version.thumbprint.toUpperCase()}), made by run ${maker}, not this run`,
  );
}

/**
 * attach: refuses when the old key has left the app (someone retired it: the run's rotation is no longer the one
 * the target needs) or when a newer valid certificate credential appeared that this run did not add.
 */
export function checkAppPremise(
  app: AppRegistration,
  premises: Premises,
  ours: { runId: string; thumbprint: string },
  now: number,
): void {
  const foreign = app.keyCredentials.filter(
    (c) =>
      isCertificateCredential(c) &&
      !premises.keyIds.includes(c.keyId) &&
      !sameThumbprint(c.thumbprint, ours.thumbprint) &&
      runIdOfCredential(c.displayName) !== ours.runId,
  );
  const old = app.keyCredentials.find((c) => c.keyId === premises.oldKeyId);
  if (!old) {
    const replacement = foreign.sort((a, b) => Date.parse(b.startDateTime) - Date.parse(a.startDateTime))[0];
    superseded(
      `the old key ${premises.oldThumbprint} is no longer on app ${app.appId}` +
        (replacement
          ? `; it now holds key ${replacement.thumbprint.toUpperCase()}, added by ${addedBy(replacement.thumbprint, { app })}`
          : ''),
    );
  }
  const newer = foreign.find(
    (c) => credentialValidAt(c, now) && Date.parse(c.endDateTime) > Date.parse(old.endDateTime),
  );
  if (newer) {
    superseded(
      `app ${app.appId} gained key ${newer.thumbprint.toUpperCase()} after this run's preflight, added by ` +
        addedBy(newer.thumbprint, { app }),
    );
  }
}

/**
 * install, retire, rollback: the server's key must be the run's old key or its new one. A third key is another
 * run's (or a person's) newer rotation: installing, restoring or retiring over it would act on stale facts.
 * Returns the third key's thumbprint, for the caller to name its adder and refuse; undefined when the premise holds.
 */
export function thirdServerKey(
  serverThumbprint: string | undefined,
  premises: Premises,
  newThumbprint: string | undefined,
): string | undefined {
  if (serverThumbprint === undefined) return undefined;
  if (sameThumbprint(serverThumbprint, premises.oldThumbprint)) return undefined;
  if (sameThumbprint(serverThumbprint, newThumbprint)) return undefined;
  return serverThumbprint.toUpperCase();
}

/** install, retire, rollback: refuses with who put the third key on the server. */
export async function refuseThirdServerKey(
  ports: RotationPorts,
  where: { appId?: string; certificate?: string },
  third: string,
  premises: Premises,
  before: string,
  signal: AbortSignal,
): Promise<never> {
  const who = await lookUpAdder(ports, where, third, signal);
  return superseded(
    `the server uses key ${third}, neither this run's old key ${premises.oldThumbprint} nor its new key, put there ` +
      `by ${who}; refusing to ${before}`,
  );
}
