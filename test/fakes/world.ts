/**
 * One simulated world behind every port: a Key Vault, an Entra app registration, a server, Entra's token endpoint,
 * Dataverse and Power Platform sites, sharing one clock and one history so invariants (I1–I3) can be checked over
 * everything that happened. Models what matters for safety: creation delay, propagation delay (AADSTS700027),
 * reads that lag writes, credential validity windows, throttling and injected faults or crashes.
 */
import { createHash } from 'node:crypto';
import {
  AdapterError,
  type AccessToken,
  type AppAccess,
  type AppOwnership,
  type AppRegistration,
  type AppRegistry,
  type CallOptions,
  type CertificatePolicySpec,
  type CertificateStore,
  type CertificateVersion,
  type CreateOperationState,
  type CreateOperationStatus,
  type DataverseProbe,
  type KeyCredential,
  type KeyRef,
  type PendingCreate,
  type PortError,
  type ServerKeyState,
  type ServerKeyTarget,
  type SiteDirectory,
  type SiteInfo,
  type TokenVerifier,
  type WhoAmIResult,
} from '../../src/adapters/ports.js';
import { RUN_ID_TAG } from '../../src/machines/rotation-policies.js';
import type { RotationPorts, StepTiming } from '../../src/adapters/rotation-ports.js';
import { FakeClock } from './clock.js';
import { CRASH, FaultInjector, TIMEOUT, UNAVAILABLE } from './faults.js';

const DAY = 86_400_000;

export type HistoryEvent =
  | { time: number; kind: 'appKeys'; keys: { keyId: string; thumbprint: string; start: string; end: string }[] }
  | { time: number; kind: 'serverKey'; thumbprint: string | undefined; usable?: boolean }
  | { time: number; kind: 'token'; thumbprint: string }
  | { time: number; kind: 'versionCreated'; version: string; thumbprint: string; runId?: string }
  | { time: number; kind: 'versionEnabled'; version: string; enabled: boolean }
  | { time: number; kind: 'keyAdded'; keyId: string; thumbprint: string; via: 'addKey' | 'patch' }
  | { time: number; kind: 'keyRemoved'; keyId: string; thumbprint: string; via: 'removeKey' | 'patch' | 'platform' }
  | { time: number; kind: 'siteKey'; thumbprint: string };

export interface WorldOptions {
  /** Days the seeded key has left (30 = due with the default 60-day rotateBefore). */
  daysLeft?: number;
  /** How long a new key credential is unknown to the token endpoint (AADSTS700027). */
  propagationMs?: number;
  /** How far app reads lag writes. */
  readLagMs?: number;
  /** Key Vault's creation delay for a new version. */
  createDelayMs?: number;
  /** Clock time each port call takes. */
  latencyMs?: number;
  /** A `manual` server: certrotate can neither install nor observe its key. */
  serverManual?: boolean;
  /** Whether Key Vault reports the run-id tag on a pending create (UNCONFIRMED: test both). */
  pendingReportsTags?: boolean;
  /** The new key never works (to drive verification into rollback). */
  newKeysNeverWork?: boolean;
  /** The server uses a key the app does not know (a broken starting state preflight must refuse). */
  serverBroken?: boolean;
}

interface PendingOp {
  id: string;
  certificate: string;
  tags: Record<string, string>;
  readyAt: number;
  policy: CertificatePolicySpec;
  version?: string;
}

interface StoredCredential extends KeyCredential {
  addedAt: number;
}

export const APP_ID = '11111111-2222-3333-4444-555555555555';
export const OBJECT_ID = 'aaaaaaaa-0000-0000-0000-000000000001';
export const CERTIFICATE = 'contoso-s2s';
export const VAULT = 'https://kv-contoso.vault.azure.net';
export const DATAVERSE = 'https://contoso.crm.dynamics.com';

export class FakeWorld {
  readonly clock = new FakeClock();
  readonly faults = new FaultInjector();
  readonly history: HistoryEvent[] = [];
  /** Every port call made, in order. */
  readonly calls: string[] = [];
  /** Fired when a `crashAfter` fault "kills the process". */
  onCrash: (() => void) | undefined;
  dead = false;

  // ---- power-pages: one site whose key the platform holds ----------------------------------------------------------
  /** The key the site uses (the seeded one until Update key). */
  siteThumbprint: string;
  /** Until this clock time the site restarts after Update key (unhealthy). */
  siteRestartUntil = 0;
  /** Forces the site unhealthy (e.g. a failed Update key). */
  siteDown = false;
  /** The app is on the platform-managed identity: federated credential, no key credential. */
  siteFederated = false;
  /** What certrotate's identity may do to the app (power-pages preflight). */
  access: AppAccess = { owner: true, canWrite: true, detail: 'an owner of the app' };

  readonly options: Required<WorldOptions>;
  private versions: CertificateVersion[] = [];
  private pending: PendingOp | undefined;
  private operations = new Map<string, PendingOp>();
  private credentials: StoredCredential[] = [];
  /** Past key sets of the app, for lagging reads. */
  private appWrites: { at: number; keys: StoredCredential[] }[] = [];
  private serverThumbprint: string | undefined;
  private tokens = new Map<string, string>();
  private counter = 0;

  constructor(options: WorldOptions = {}) {
    this.options = {
      daysLeft: 30,
      propagationMs: 45_000,
      readLagMs: 5_000,
      createDelayMs: 8_000,
      latencyMs: 50,
      serverManual: false,
      pendingReportsTags: false,
      newKeysNeverWork: false,
      serverBroken: false,
      ...options,
    };
    const now = this.clock.now();
    const seeded = this.makeVersion(now - 700 * DAY, now + this.options.daysLeft * DAY, {});
    this.versions.push(seeded);
    this.credentials.push({ ...this.credentialFor(seeded), addedAt: now - 700 * DAY });
    this.appWrites.push({ at: now - 700 * DAY, keys: [...this.credentials] });
    this.serverThumbprint = this.options.serverBroken ? this.thumbprintOf(0) : seeded.thumbprint;
    this.siteThumbprint = seeded.thumbprint;
    this.recordAppKeys();
    this.history.push({ time: now, kind: 'serverKey', thumbprint: this.serverThumbprint });
  }

  /** Plays a process that created this run's version and died before its snapshot recorded the operation. */
  seedTaggedVersion(runId: string): CertificateVersion {
    const now = this.clock.now();
    const created = this.makeVersion(now - 600_000, now + 730 * DAY, { [RUN_ID_TAG]: runId });
    this.versions.push(created);
    this.history.push({
      time: now,
      kind: 'versionCreated',
      version: created.version,
      thumbprint: created.thumbprint,
      runId,
    });
    return created;
  }

  /**
   * Plays the race of a create adopted while pending: the create this run polls turns out to be another agent's
   * (its tag names `runId`), so the version it makes is that run's.
   */
  pendingCreateIsAnotherRuns(runId: string): void {
    for (const op of [this.pending, ...this.operations.values()]) {
      if (op && !op.version) op.tags = { ...op.tags, [RUN_ID_TAG]: runId };
    }
  }

  /**
   * Plays another agent's run of the same target (another state dir, another machine): it makes a newer version
   * tagged with its run id, attaches it with its world marker (propagated and verified: it produced a token), and
   * then, step by step as asked, installs it on the server and retires the old key. Returns its new version.
   */
  anotherRunRotates(
    opts: { runId?: string; installs?: boolean; retiresOld?: boolean; marker?: boolean } = {},
  ): CertificateVersion {
    const runId = opts.runId ?? 'run-other';
    const now = this.clock.now();
    const created = this.makeVersion(now - 60_000, now + 730 * DAY, { [RUN_ID_TAG]: runId });
    this.versions.push(created);
    this.history.push({
      time: now,
      kind: 'versionCreated',
      version: created.version,
      thumbprint: created.thumbprint,
      runId,
    });
    const credential: StoredCredential = {
      ...this.credentialFor(created),
      ...(opts.marker === false ? {} : { displayName: `certrotate ${runId}` }),
      addedAt: now - this.options.propagationMs - 1,
    };
    this.credentials.push(credential);
    this.history.push({
      time: now,
      kind: 'keyAdded',
      keyId: credential.keyId,
      thumbprint: created.thumbprint,
      via: 'addKey',
    });
    // Written long enough ago that every (lagging) read of the app sees it: the other run finished its steps.
    this.appWrites.push({ at: now - this.options.readLagMs - 1, keys: [...this.credentials] });
    this.recordAppKeys();
    this.history.push({ time: now, kind: 'token', thumbprint: created.thumbprint });
    if (opts.installs || opts.retiresOld) this.setServer(created.thumbprint);
    if (opts.retiresOld) {
      const old = this.credentials.find((c) => c.thumbprint === this.seededVersion.thumbprint);
      if (old) {
        this.credentials = this.credentials.filter((c) => c !== old);
        this.history.push({
          time: now,
          kind: 'keyRemoved',
          keyId: old.keyId,
          thumbprint: old.thumbprint,
          via: 'removeKey',
        });
        this.appWrites.push({ at: now - this.options.readLagMs - 1, keys: [...this.credentials] });
        this.recordAppKeys();
      }
      this.seededVersion.enabled = false;
    }
    return { ...created };
  }

  /** Turns the app into one on the platform-managed identity (no key credentials, a federated credential). */
  useFederatedIdentity(): void {
    this.siteFederated = true;
    this.credentials = [];
    this.appWrites.push({ at: this.clock.now() - this.options.readLagMs - 1, keys: [] });
    this.recordAppKeys();
  }

  /**
   * Plays the admin center's Update key for a power-pages site: the platform attaches its own new key and the site
   * restarts onto it for `restartMs`; with `removesOldKey`, the platform also drops the key the site used before.
   */
  platformUpdateKey(opts: { restartMs?: number; removesOldKey?: boolean } = {}): KeyCredential {
    const now = this.clock.now();
    const n = ++this.counter;
    const credential: KeyCredential = {
      keyId: `key-${n}`,
      thumbprint: this.thumbprintOf(n),
      startDateTime: new Date(now).toISOString(),
      endDateTime: new Date(now + 730 * DAY).toISOString(),
      usage: 'Verify',
      type: 'AsymmetricX509Cert',
    };
    this.credentials.push({ ...credential, addedAt: now });
    this.history.push({
      time: now,
      kind: 'keyAdded',
      keyId: credential.keyId,
      thumbprint: credential.thumbprint,
      via: 'patch',
    });
    this.recordAppKeys();
    const previous = this.siteThumbprint;
    this.siteThumbprint = credential.thumbprint;
    this.siteRestartUntil = now + (opts.restartMs ?? 0);
    this.history.push({ time: now, kind: 'siteKey', thumbprint: credential.thumbprint });
    if (opts.removesOldKey) {
      const old = this.credentials.find((c) => c.thumbprint === previous);
      if (old) {
        this.credentials = this.credentials.filter((c) => c !== old);
        this.history.push({
          time: now,
          kind: 'keyRemoved',
          keyId: old.keyId,
          thumbprint: old.thumbprint,
          via: 'platform',
        });
        this.recordAppKeys();
      }
    }
    return credential;
  }

  /** Whether the site serves now: not restarting, not forced down, and its key a valid credential of the app. */
  siteServes(): boolean {
    if (this.siteFederated) return !this.siteDown;
    const now = this.clock.now();
    if (this.siteDown || now < this.siteRestartUntil) return false;
    return this.credentials.some(
      (c) =>
        c.thumbprint === this.siteThumbprint && Date.parse(c.startDateTime) <= now && now < Date.parse(c.endDateTime),
    );
  }

  /** The seeded key (the one in service at the start). */
  get seededVersion(): CertificateVersion {
    return this.versions[0]!;
  }

  // ---- inspection ----------------------------------------------------------------------------------------------

  appKeys(): KeyCredential[] {
    return this.credentials.map(({ addedAt: _addedAt, ...c }) => c);
  }
  allVersions(): CertificateVersion[] {
    return this.versions.map((v) => ({ ...v }));
  }
  serverKey(): string | undefined {
    return this.serverThumbprint;
  }
  /** Lets a test play the operator of a manual server. */
  operatorInstalls(thumbprint: string): void {
    this.setServer(thumbprint);
  }
  /** Starts a new "process" after a crash: the world is the same, calls work again. */
  revive(): void {
    this.dead = false;
  }

  /** Ports over this world, as the driver receives them. */
  ports(timing: Partial<StepTiming> = {}): RotationPorts {
    return {
      certificates: this.certificateStore(),
      apps: this.appRegistry(),
      server: this.serverTarget(),
      tokens: this.tokenVerifier(),
      dataverse: this.dataverseProbe(),
      sites: this.siteDirectory(),
      ownership: this.appOwnership(),
      clock: this.clock,
      timing: { createPollMs: 2_000, readSettleMs: 20_000, readPollMs: 2_000, ...timing },
    };
  }

  // ---- the call wrapper: latency, faults, crash ------------------------------------------------------------------

  private async call<T>(name: string, options: CallOptions | undefined, effect: () => T): Promise<T> {
    await Promise.resolve();
    this.calls.push(name);
    if (this.dead) throw new AdapterError({ ...CRASH, message: `${name} called after the process died` });
    if (options?.signal?.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
    this.clock.advance(this.options.latencyMs);
    const before = this.faults.take(name, 'fail');
    if (before) throw new AdapterError({ ...UNAVAILABLE, ...before.error } as PortError);
    this.settleVault();
    // Crash and timeout rules fire whether or not the call itself succeeded: either way the caller never learns
    // the answer, which is the case the steps must survive.
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: effect() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const crash = this.faults.take(name, 'crashAfter');
    if (crash) {
      this.dead = true;
      this.onCrash?.();
      throw new AdapterError({ ...CRASH, message: `crashed right after ${name}` });
    }
    const after = this.faults.take(name, 'failAfter');
    if (after) throw new AdapterError({ ...TIMEOUT, ...after.error } as PortError);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  // ---- Key Vault -------------------------------------------------------------------------------------------------

  private thumbprintOf(n: number): string {
    return createHash('sha1').update(`certificate-${n}`).digest('hex').toUpperCase();
  }

  private makeVersion(notBefore: number, expires: number, tags: Record<string, string>): CertificateVersion {
    const n = ++this.counter;
    const version = createHash('md5').update(`version-${n}`).digest('hex');
    return {
      version,
      thumbprint: this.thumbprintOf(n),
      secretId: `${VAULT}/secrets/${CERTIFICATE}/${version}`,
      enabled: true,
      createdOn: new Date(notBefore).toISOString(),
      notBefore: new Date(notBefore).toISOString(),
      expiresOn: new Date(expires).toISOString(),
      tags,
    };
  }

  /** Completes a pending create whose delay has passed (Key Vault issues the version on its own). */
  private settleVault(): void {
    const op = this.pending;
    if (!op || this.clock.now() < op.readyAt) return;
    const now = this.clock.now();
    const created = this.makeVersion(now - 600_000, now + 730 * DAY, op.tags);
    this.versions.push(created);
    op.version = created.version;
    this.pending = undefined;
    const runId = op.tags[RUN_ID_TAG];
    this.history.push({
      time: now,
      kind: 'versionCreated',
      version: created.version,
      thumbprint: created.thumbprint,
      ...(runId ? { runId } : {}),
    });
  }

  private versionBySecret(secretId: string): CertificateVersion | undefined {
    return this.versions.find((v) => v.secretId === secretId);
  }

  private certificateStore(): CertificateStore {
    const known = (certificate: string) => {
      if (certificate !== CERTIFICATE) {
        throw new AdapterError({
          code: 'notFound',
          message: `Certificate not found: ${certificate}`,
          retryable: false,
        });
      }
    };
    return {
      listVersions: (certificate, options) =>
        this.call('certificates.listVersions', options, () => {
          known(certificate);
          return this.allVersions();
        }),
      getVersion: (certificate, version, options) =>
        this.call('certificates.getVersion', options, () => {
          known(certificate);
          const found = this.versions.find((v) => v.version === version);
          return found ? { ...found } : undefined;
        }),
      findVersionByTag: (certificate, name, value, options) =>
        this.call('certificates.findVersionByTag', options, () => {
          known(certificate);
          const found = [...this.versions].reverse().find((v) => v.tags[name] === value);
          return found ? { ...found } : undefined;
        }),
      getPendingCreate: (certificate, options) =>
        this.call('certificates.getPendingCreate', options, (): PendingCreate | undefined => {
          known(certificate);
          const op = this.pending;
          if (!op) return undefined;
          const runId = op.tags[RUN_ID_TAG];
          return {
            operation: { certificateName: certificate, serialized: JSON.stringify({ id: op.id }) },
            ...(this.options.pendingReportsTags && runId ? { runId } : {}),
          };
        }),
      beginCreate: (certificate, policy, tags, options) =>
        this.call('certificates.beginCreate', options, (): CreateOperationState => {
          known(certificate);
          if (this.pending) {
            throw new AdapterError({
              code: 'conflict',
              status: 409,
              message: 'Pending certificate can not be created while a pending operation is inProgress.',
              retryable: false,
            });
          }
          const op: PendingOp = {
            id: `op-${++this.counter}`,
            certificate,
            tags,
            policy,
            readyAt: this.clock.now() + this.options.createDelayMs,
          };
          this.pending = op;
          this.operations.set(op.id, op);
          return { certificateName: certificate, serialized: JSON.stringify({ id: op.id }) };
        }),
      pollCreate: (operation, options) =>
        this.call('certificates.pollCreate', options, (): CreateOperationStatus => {
          const { id } = JSON.parse(operation.serialized) as { id: string };
          const op = this.operations.get(id);
          if (!op)
            return { status: 'failed', error: { code: 'notFound', message: 'no such operation', retryable: false } };
          if (!op.version) return { status: 'inProgress' };
          return { status: 'completed', version: { ...this.versions.find((v) => v.version === op.version)! } };
        }),
      setVersionEnabled: (certificate, version, enabled, options) =>
        this.call('certificates.setVersionEnabled', options, () => {
          known(certificate);
          const found = this.versions.find((v) => v.version === version);
          if (!found) throw new AdapterError({ code: 'notFound', message: 'version not found', retryable: false });
          if (found.enabled !== enabled) {
            found.enabled = enabled;
            this.history.push({ time: this.clock.now(), kind: 'versionEnabled', version, enabled });
          }
        }),
    };
  }

  // ---- Graph -----------------------------------------------------------------------------------------------------

  private credentialFor(version: CertificateVersion): KeyCredential {
    return {
      keyId: `key-${++this.counter}`,
      thumbprint: version.thumbprint,
      startDateTime: version.notBefore,
      endDateTime: version.expiresOn,
      usage: 'Verify',
      type: 'AsymmetricX509Cert',
      displayName: 'CN=contoso-s2s',
    };
  }

  private recordAppKeys(): void {
    this.appWrites.push({ at: this.clock.now(), keys: [...this.credentials] });
    this.history.push({
      time: this.clock.now(),
      kind: 'appKeys',
      keys: this.credentials.map((c) => ({
        keyId: c.keyId,
        thumbprint: c.thumbprint,
        start: c.startDateTime,
        end: c.endDateTime,
      })),
    });
  }

  private validAt(c: KeyCredential, now: number): boolean {
    return Date.parse(c.startDateTime) <= now && now < Date.parse(c.endDateTime);
  }

  /** addKey/removeKey proof: signed by a currently valid key of the app whose private key the vault holds. */
  private checkProof(proofKey: KeyRef): void {
    const now = this.clock.now();
    const credential = this.credentials.find((c) => c.thumbprint === proofKey.thumbprint);
    const version = this.versionBySecret(proofKey.secretId);
    if (!credential || !version || version.thumbprint !== proofKey.thumbprint) {
      throw new AdapterError({
        code: 'invalidProof',
        message: 'Authentication_MissingOrMalformed: Access Token missing or malformed.',
        status: 401,
        retryable: false,
      });
    }
    if (!this.validAt(credential, now)) {
      throw new AdapterError({ code: 'keyExpired', message: 'the proof key is expired', retryable: false });
    }
  }

  private appRegistry(): AppRegistry {
    const known = (appId: string) => {
      if (appId !== APP_ID)
        throw new AdapterError({ code: 'notFound', message: 'Request_ResourceNotFound', retryable: false });
    };
    const add = (newKey: KeyRef, via: 'addKey' | 'patch', displayName?: string): KeyCredential => {
      const version = this.versionBySecret(newKey.secretId);
      if (!version || version.thumbprint !== newKey.thumbprint) {
        throw new AdapterError({ code: 'invalidRequest', message: 'Invalid certificate', retryable: false });
      }
      // Graph keeps the displayName it is given (certrotate's world marker), else the subject.
      const credential = { ...this.credentialFor(version), ...(displayName ? { displayName } : {}) };
      this.credentials.push({ ...credential, addedAt: this.clock.now() });
      this.history.push({
        time: this.clock.now(),
        kind: 'keyAdded',
        keyId: credential.keyId,
        thumbprint: credential.thumbprint,
        via,
      });
      this.recordAppKeys();
      return credential;
    };
    const remove = (keyId: string, via: 'removeKey' | 'patch') => {
      const credential = this.credentials.find((c) => c.keyId === keyId);
      if (!credential) {
        throw new AdapterError({ code: 'notFound', message: 'No credentials found to be removed.', retryable: false });
      }
      this.credentials = this.credentials.filter((c) => c.keyId !== keyId);
      this.history.push({ time: this.clock.now(), kind: 'keyRemoved', keyId, thumbprint: credential.thumbprint, via });
      this.recordAppKeys();
    };
    return {
      getApp: (appId, options) =>
        this.call('apps.getApp', options, (): AppRegistration => {
          known(appId);
          // Reads are served from a replica that lags writes by readLagMs.
          const horizon = this.clock.now() - this.options.readLagMs;
          const view = [...this.appWrites].reverse().find((w) => w.at <= horizon) ?? this.appWrites[0]!;
          return {
            objectId: OBJECT_ID,
            appId,
            displayName: 'contoso-api',
            keyCredentials: view.keys.map(({ addedAt: _a, ...c }) => ({ ...c })),
            hasFederatedCredentials: this.siteFederated,
          };
        }),
      addKey: (appId, newKey, proofKey, options) =>
        this.call('apps.addKey', options, () => {
          known(appId);
          this.checkProof(proofKey);
          return add(newKey, 'addKey', options?.displayName);
        }),
      removeKey: (appId, keyId, proofKey, options) =>
        this.call('apps.removeKey', options, () => {
          known(appId);
          this.checkProof(proofKey);
          remove(keyId, 'removeKey');
        }),
      patchKeyCredentials: (appId, change, options) =>
        this.call('apps.patchKeyCredentials', options, () => {
          known(appId);
          const added: KeyCredential[] = [];
          for (const key of change.add ?? []) {
            if (!this.credentials.some((c) => c.thumbprint === key.thumbprint)) {
              added.push(add(key, 'patch', options?.displayName));
            }
          }
          for (const keyId of change.removeKeyIds ?? []) {
            if (this.credentials.some((c) => c.keyId === keyId)) remove(keyId, 'patch');
          }
          return added;
        }),
    };
  }

  // ---- the server ------------------------------------------------------------------------------------------------

  private setServer(thumbprint: string): void {
    if (this.serverThumbprint === thumbprint) return;
    this.serverThumbprint = thumbprint;
    const usable = this.tokenProblem(thumbprint) === undefined;
    this.history.push({ time: this.clock.now(), kind: 'serverKey', thumbprint, usable });
  }

  private serverTarget(): ServerKeyTarget {
    const manual = this.options.serverManual;
    const install = (key: KeyRef) => {
      if (manual) throw new AdapterError({ code: 'invalidRequest', message: 'manual server', retryable: false });
      // The server pulls the key from Key Vault by secret id: a disabled secret is refused (403 SecretDisabled).
      const version = this.versionBySecret(key.secretId);
      if (!version || version.thumbprint !== key.thumbprint) {
        throw new AdapterError({ code: 'notFound', message: 'SecretNotFound', retryable: false });
      }
      if (!version.enabled) {
        throw new AdapterError({ code: 'forbidden', message: 'SecretDisabled', status: 403, retryable: false });
      }
      this.setServer(key.thumbprint);
    };
    return {
      manual,
      currentKey: (options) =>
        this.call('server.currentKey', options, (): ServerKeyState =>
          manual || !this.serverThumbprint ? {} : { thumbprint: this.serverThumbprint },
        ),
      install: (key, options) => this.call('server.install', options, () => install(key)),
      restore: (key, options) => this.call('server.restore', options, () => install(key)),
      checkHealth: (options) =>
        this.call('server.checkHealth', options, () => {
          const thumbprint = this.serverThumbprint;
          const problem = thumbprint ? this.tokenProblem(thumbprint) : { code: 'noKey', message: 'no key' };
          return problem ? { healthy: false, detail: problem.message } : { healthy: true };
        }),
    };
  }

  // ---- Entra token endpoint, Dataverse, sites -----------------------------------------------------------------------

  /** Why a token with this key would be refused now, or undefined when it would be issued. */
  private tokenProblem(thumbprint: string): PortError | undefined {
    const now = this.clock.now();
    const credential = this.credentials.find((c) => c.thumbprint === thumbprint);
    const seeded = thumbprint === this.seededVersion.thumbprint;
    if (
      !credential ||
      now < credential.addedAt + this.options.propagationMs ||
      (this.options.newKeysNeverWork && !seeded)
    ) {
      return {
        code: 'keyNotFound',
        message: `AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}']`,
        retryable: true,
        status: 401,
      };
    }
    if (!this.validAt(credential, now)) {
      return {
        code: 'keyExpired',
        message: 'AADSTS700027: [Reason - The key used is expired.]',
        retryable: false,
        status: 401,
      };
    }
    return undefined;
  }

  private tokenVerifier(): TokenVerifier {
    return {
      acquireToken: (_appId, key, _scope, options) =>
        this.call('tokens.acquireToken', options, (): AccessToken => {
          const version = this.versionBySecret(key.secretId);
          if (!version || !version.enabled) {
            throw new AdapterError({
              code: 'forbidden',
              message: 'cannot read the key from Key Vault',
              retryable: false,
            });
          }
          const problem = this.tokenProblem(key.thumbprint);
          if (problem) throw new AdapterError(problem);
          const token = `token-${++this.counter}`;
          this.tokens.set(token, key.thumbprint);
          this.history.push({ time: this.clock.now(), kind: 'token', thumbprint: key.thumbprint });
          return { token, expiresOn: new Date(this.clock.now() + 3_600_000).toISOString() };
        }),
    };
  }

  private dataverseProbe(): DataverseProbe {
    return {
      whoAmI: (_url, token, options) =>
        this.call('dataverse.whoAmI', options, (): WhoAmIResult => {
          if (!this.tokens.has(token.token)) {
            throw new AdapterError({ code: 'forbidden', message: 'invalid token', status: 401, retryable: false });
          }
          return { userId: 'user-1', businessUnitId: 'bu-1', organizationId: 'org-1' };
        }),
    };
  }

  private siteDirectory(): SiteDirectory {
    const site = (): SiteInfo => ({
      websiteId: 'site-1',
      environmentId: 'env-1',
      environmentName: 'contoso-prod',
      name: 'contoso-portal',
      url: 'https://contoso.powerappsportals.com',
      appId: APP_ID,
      status: this.clock.now() < this.siteRestartUntil ? 'restarting' : 'running',
      source: 'api',
    });
    return {
      getSite: (_e, _w, options) => this.call('sites.getSite', options, site),
      siteHealthy: (_e, _w, options) => this.call('sites.siteHealthy', options, () => this.siteServes()),
      listSites: (_e, options) => this.call('sites.listSites', options, () => [site()]),
    };
  }

  private appOwnership(): AppOwnership {
    return {
      callerAccess: (_appId, options) => this.call('ownership.callerAccess', options, () => ({ ...this.access })),
    };
  }
}
