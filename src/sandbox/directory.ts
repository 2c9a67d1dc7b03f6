/**
 * The tenant's directory: app registrations with their key, password and federated credentials, the service
 * principals that own them, the permissions the sandbox grants, and the propagation model for new keys.
 * Every change to an app's key set is recorded in history as an `appKeys` event.
 */
import { X509Certificate, createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { SandboxClock } from './clock.js';
import { isoTime } from './clock.js';
import type { History, HistoryKey } from './history.js';
import { thumbprintOf, x5tOf, x5tS256Of } from './pki.js';

/** A certificate key credential on an app registration. */
export interface KeyCredential {
  keyId: string;
  type: 'AsymmetricX509Cert';
  usage: 'Verify';
  /** Certificate DER. */
  key: Uint8Array;
  customKeyIdentifier: string;
  displayName: string;
  startMs: number;
  endMs: number;
  thumbprint: string;
  x5t: string;
  x5tS256: string;
  publicKey: KeyObject;
  /** Sandbox time the credential was written; it works for tokens only after the propagation delay. */
  addedAt: number;
}

export interface PasswordCredential {
  keyId: string;
  displayName: string;
  secretText: string;
  startMs: number;
  endMs: number;
}

export interface FederatedIdentityCredential {
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  description: string | null;
}

/** An app registration plus its service principal (one tenant, so they travel together). */
export interface Application {
  /** Object id of the application. */
  id: string;
  appId: string;
  displayName: string;
  /** Object id of the app's service principal: the `oid` of its tokens and its identity as an owner. */
  servicePrincipalId: string;
  keyCredentials: KeyCredential[];
  passwordCredentials: PasswordCredential[];
  federatedIdentityCredentials: FederatedIdentityCredential[];
  /** Service principal ids owning this app. */
  owners: string[];
  /**
   * The service principal's own credentials (absent for a portal registration, whose certificates live on the
   * application object; set for a service principal given keys of its own, e.g. a SAML signing certificate).
   */
  servicePrincipalCredentials?: { keyCredentials: KeyCredential[]; passwordCredentials: PasswordCredential[] };
  /** Graph application permissions granted (app roles), e.g. `Application.ReadWrite.OwnedBy`. */
  graphRoles: string[];
  /** Whether the app may read the Power Platform websites API. */
  powerPlatformReader: boolean;
  createdDateTime: string;
  /** The application resource's other documented v1.0 properties that an admin may set (description, web, tags…). */
  properties: Record<string, unknown>;
}

export interface Directory {
  readonly tenantId: string;
  readonly propagationDelayMs: number;
  createApp(opts: {
    displayName: string;
    appId?: string;
    graphRoles?: string[];
    powerPlatformReader?: boolean;
  }): Application;
  apps(): Application[];
  appById(id: string): Application | undefined;
  appByAppId(appId: string): Application | undefined;
  appByServicePrincipalId(spId: string): Application | undefined;
  /** Builds a key credential from a certificate; `propagated` backdates it so it works at once (seeded keys). */
  keyCredentialFromCertificate(
    certDer: Uint8Array,
    opts?: { keyId?: string; displayName?: string; startMs?: number; endMs?: number; propagated?: boolean },
  ): KeyCredential;
  /** Replaces the app's key credentials and records the new set in history. */
  setKeyCredentials(app: Application, keys: KeyCredential[]): void;
  /** The key set as a reader `lagMs` behind sees it (reads that lag writes). */
  keyCredentialsAsSeen(app: Application, lagMs: number): KeyCredential[];
  /** Marks every current key set as long settled (the seeded world existed before the sandbox started). */
  settle(): void;
  /** Adds a client secret and returns its text. */
  addPassword(app: Application, displayName: string, lifetimeDays?: number): string;
  /** Adds a client secret with an explicit window (Graph's addPassword) and returns the stored credential. */
  addPasswordCredential(
    app: Application,
    o: { displayName: string; startMs: number; endMs: number },
  ): PasswordCredential;
  addFederatedCredential(app: Application, fic: Omit<FederatedIdentityCredential, 'id'>): FederatedIdentityCredential;
  addOwner(app: Application, owner: Application): void;
  /** Whether a key credential is usable for tokens now (propagated and within its validity). */
  keyState(key: KeyCredential): 'notPropagated' | 'notYetValid' | 'expired' | 'valid';
}

/** History's view of a key set. */
export function historyKeys(keys: KeyCredential[]): HistoryKey[] {
  return keys.map((k) => ({
    keyId: k.keyId,
    thumbprint: k.thumbprint,
    start: isoTime(k.startMs),
    end: isoTime(k.endMs),
  }));
}

export function createDirectory(opts: {
  tenantId?: string;
  clock: SandboxClock;
  history: History;
  propagationDelaySeconds?: number;
}): Directory {
  const tenantId = opts.tenantId ?? randomUUID();
  const propagationDelayMs = (opts.propagationDelaySeconds ?? 0) * 1000;
  const byId = new Map<string, Application>();
  const byAppId = new Map<string, Application>();
  const bySp = new Map<string, Application>();
  // Each app's key sets over time, newest last, so lagging reads can be answered.
  const keyTimeline = new Map<string, { at: number; keys: KeyCredential[] }[]>();

  const dir: Directory = {
    tenantId,
    propagationDelayMs,
    createApp(o) {
      const app: Application = {
        id: randomUUID(),
        appId: o.appId ?? randomUUID(),
        displayName: o.displayName,
        servicePrincipalId: randomUUID(),
        keyCredentials: [],
        passwordCredentials: [],
        federatedIdentityCredentials: [],
        owners: [],
        graphRoles: o.graphRoles ?? [],
        powerPlatformReader: o.powerPlatformReader ?? false,
        createdDateTime: new Date(opts.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        properties: {},
      };
      byId.set(app.id, app);
      byAppId.set(app.appId.toLowerCase(), app);
      bySp.set(app.servicePrincipalId, app);
      keyTimeline.set(app.id, [{ at: 0, keys: [] }]);
      return app;
    },
    apps: () => [...byId.values()],
    appById: (id) => byId.get(id.toLowerCase()) ?? byId.get(id),
    appByAppId: (appId) => byAppId.get(appId.toLowerCase()),
    appByServicePrincipalId: (spId) => bySp.get(spId),
    keyCredentialFromCertificate(certDer, o = {}) {
      const cert = new X509Certificate(certDer);
      const notBefore = Date.parse(cert.validFrom);
      const notAfter = Date.parse(cert.validTo);
      const thumbprint = thumbprintOf(certDer);
      return {
        keyId: o.keyId ?? randomUUID(),
        type: 'AsymmetricX509Cert',
        usage: 'Verify',
        key: certDer,
        customKeyIdentifier: thumbprint,
        displayName: (o.displayName ?? cert.subject.replace(/\n/g, ', ')).slice(0, 90),
        startMs: o.startMs ?? notBefore,
        endMs: o.endMs ?? notAfter,
        thumbprint,
        x5t: x5tOf(certDer),
        x5tS256: x5tS256Of(certDer),
        publicKey: createPublicKey(cert.publicKey.export({ format: 'pem', type: 'spki' })),
        addedAt: o.propagated ? Number.NEGATIVE_INFINITY : opts.clock.now(),
      };
    },
    setKeyCredentials(app, keys) {
      app.keyCredentials = keys;
      keyTimeline.get(app.id)?.push({ at: opts.clock.now(), keys });
      opts.history.record({ kind: 'appKeys', appId: app.appId, keys: historyKeys(keys) });
    },
    keyCredentialsAsSeen(app, lagMs) {
      if (lagMs <= 0) return app.keyCredentials;
      const cutoff = opts.clock.now() - lagMs;
      const timeline = keyTimeline.get(app.id) ?? [];
      let seen = timeline[0]?.keys ?? app.keyCredentials;
      for (const entry of timeline) if (entry.at <= cutoff) seen = entry.keys;
      return seen;
    },
    settle() {
      for (const app of byId.values()) keyTimeline.set(app.id, [{ at: 0, keys: app.keyCredentials }]);
    },
    addPassword(app, displayName, lifetimeDays = 730) {
      const secretText = randomBytes(30).toString('base64url');
      const now = opts.clock.now();
      app.passwordCredentials.push({
        keyId: randomUUID(),
        displayName,
        secretText,
        startMs: now - 60_000,
        endMs: now + lifetimeDays * 86_400_000,
      });
      return secretText;
    },
    addPasswordCredential(app, o) {
      const credential = { keyId: randomUUID(), secretText: randomBytes(30).toString('base64url'), ...o };
      app.passwordCredentials.push(credential);
      return credential;
    },
    addFederatedCredential(app, fic) {
      const created = { id: randomUUID(), ...fic };
      app.federatedIdentityCredentials.push(created);
      return created;
    },
    addOwner(app, owner) {
      if (!app.owners.includes(owner.servicePrincipalId)) app.owners.push(owner.servicePrincipalId);
    },
    keyState(key) {
      const now = opts.clock.now();
      if (now < key.addedAt + propagationDelayMs) return 'notPropagated';
      if (now < key.startMs) return 'notYetValid';
      if (now >= key.endMs) return 'expired';
      return 'valid';
    },
  };
  return dir;
}
