/**
 * The {@link AppRegistry} port over Microsoft Graph: reads with certrotate's own credential; `addKey`/`removeKey`
 * called as the app itself (a token acquired with the proof key's certificate) with a proof signed by that key;
 * `PATCH keyCredentials` as a merge with certrotate's credential. Every write is followed by reads until the change
 * is seen several times in a row, because directory reads lag writes.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { ClientCertificateCredential, type TokenCredential } from '@azure/identity';
import type { Logger } from 'pino';
import {
  AdapterError,
  type AppRegistration,
  type AppRegistry,
  type CallOptions,
  type Clock,
  type KeyCredential,
  type KeyRef,
} from '../ports.js';
import { awaitConsistentRead, DEFAULT_CONSISTENCY, type ConsistencyOptions } from './consistency.js';
import type { IdentityOptions } from './credentials.js';
import { classified, toAdapterError } from './errors.js';
import { createGraphClient, withPolicy } from './graph-client.js';
import { certificateDerBase64, pemBundle, type KeyMaterial, type KeyMaterialLoader } from './key-material.js';
import { signProof } from './proof.js';
import type { ServiceLimiter } from './limiter.js';

/** Options of {@link createAppRegistry}. */
export interface AppRegistryOptions {
  tenantId: string;
  graphUrl: string;
  /** certrotate's own credential (reads, PATCH). */
  credential: TokenCredential;
  /** For the credentials built from a key (calls as the app itself). */
  identity: IdentityOptions;
  keyMaterial: KeyMaterialLoader;
  clock: Clock;
  consistency?: ConsistencyOptions;
  logger?: Logger;
  /** Longest Retry-After honoured in-process, ms. */
  maxInProcessWaitMs?: number;
  /** The shared limiter: Graph budgets per calling app and tenant (limiter.ts). */
  limiter?: ServiceLimiter;
  /** certrotate's own client id (its Graph budget's key); `operator` when the sign-in method does not name one. */
  operatorAppId?: string;
}

/** A keyCredential as Graph returns it. */
interface GraphKeyCredential {
  keyId: string;
  customKeyIdentifier?: string | null;
  key?: string | null;
  displayName?: string | null;
  startDateTime?: string | null;
  endDateTime?: string | null;
  usage?: string | null;
  type?: string | null;
}

/**
 * The uppercase hex SHA-1 of a key credential: from `key` (the DER) when Graph returned it, else from
 * `customKeyIdentifier`, which portals write as 40 hex characters and Graph defaults to the base64 of the SHA-1
 * (graph-entra §1.2 calls its wire form unconfirmed, so both are read). Empty when neither tells.
 */
export function thumbprintOfKeyCredential(kc: Pick<GraphKeyCredential, 'key' | 'customKeyIdentifier'>): string {
  if (kc.key) {
    try {
      return createHash('sha1').update(Buffer.from(kc.key, 'base64')).digest('hex').toUpperCase();
    } catch {
      /* fall through to customKeyIdentifier */
    }
  }
  const cki = kc.customKeyIdentifier?.trim();
  if (!cki) return '';
  if (/^[0-9a-fA-F]{40}$/.test(cki)) return cki.toUpperCase();
  const bytes = Buffer.from(cki, 'base64');
  if (bytes.length === 20) return bytes.toString('hex').toUpperCase();
  const text = bytes.toString('utf8');
  return /^[0-9a-fA-F]{40}$/.test(text) ? text.toUpperCase() : '';
}

function toKeyCredential(kc: GraphKeyCredential): KeyCredential {
  return {
    keyId: kc.keyId,
    thumbprint: thumbprintOfKeyCredential(kc),
    startDateTime: kc.startDateTime ?? '',
    endDateTime: kc.endDateTime ?? '',
    usage: kc.usage ?? 'Verify',
    type: kc.type ?? 'AsymmetricX509Cert',
    ...(kc.displayName ? { displayName: kc.displayName } : {}),
  };
}

const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const hasKeyId = (app: AppRegistration, keyId: string) => app.keyCredentials.some((k) => sameId(k.keyId, keyId));

/** Graph's validity of a certificate, whole seconds (Graph refuses an end beyond the certificate's NotAfter). */
function validityOf(material: KeyMaterial): { startDateTime: string; endDateTime: string } {
  const cert = new X509Certificate(material.certificatePem);
  const sec = (s: string) =>
    new Date(Math.floor(new Date(s).getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return { startDateTime: sec(cert.validFrom), endDateTime: sec(cert.validTo) };
}

/** The subject of a certificate as Graph shows it in `displayName` (`CN=…`), at most 90 characters. */
function displayNameOf(material: KeyMaterial): string {
  return new X509Certificate(material.certificatePem).subject.replace(/\n/g, ', ').slice(0, 90);
}

/** An {@link AppRegistry} over Graph. */
export function createAppRegistry(opts: AppRegistryOptions): AppRegistry {
  let operator: ReturnType<typeof createGraphClient> | undefined;
  const graph = () =>
    (operator ??= createGraphClient({
      graphUrl: opts.graphUrl,
      credential: opts.credential,
      ...(opts.maxInProcessWaitMs !== undefined ? { maxInProcessWaitMs: opts.maxInProcessWaitMs } : {}),
      ...(opts.limiter
        ? { limiter: opts.limiter, caller: { appId: opts.operatorAppId ?? 'operator', tenantId: opts.tenantId } }
        : {}),
    }));
  const consistency = opts.consistency ?? DEFAULT_CONSISTENCY;
  const scope = `${opts.graphUrl.replace(/\/+$/, '')}/.default`;

  /** A Graph client that calls as the app itself, signing its client assertion with `material`. */
  function asApp(appId: string, material: KeyMaterial) {
    // A fresh credential per call: MSAL caches tokens per instance, and this one exists for one call only.
    const credential = new ClientCertificateCredential(
      opts.tenantId,
      appId,
      { certificate: pemBundle(material) },
      opts.identity,
    );
    return createGraphClient({
      graphUrl: opts.graphUrl,
      credential,
      ...(opts.maxInProcessWaitMs !== undefined ? { maxInProcessWaitMs: opts.maxInProcessWaitMs } : {}),
      ...(opts.limiter ? { limiter: opts.limiter, caller: { appId, tenantId: opts.tenantId } } : {}),
    });
  }

  /** Acquires the app's Graph token up front, so a key Entra does not know yet fails as `keyNotFound`. */
  async function appToken(appId: string, material: KeyMaterial, signal?: AbortSignal) {
    const credential = new ClientCertificateCredential(
      opts.tenantId,
      appId,
      { certificate: pemBundle(material) },
      opts.identity,
    );
    await credential.getToken(scope, signal ? { abortSignal: signal } : {});
  }

  async function readApp(appId: string, o?: CallOptions): Promise<AppRegistration> {
    return classified({ operation: `Graph: reading app ${appId}` }, async () => {
      const g = graph();
      const app = (await withPolicy(
        g.client
          .api(`/applications(appId='${encodeURIComponent(appId)}')`)
          .select(['id', 'appId', 'displayName', 'keyCredentials']),
        g.retry,
        o?.signal,
      ).get()) as { id: string; appId: string; displayName?: string; keyCredentials?: GraphKeyCredential[] };
      let federated = false;
      try {
        const fic = (await withPolicy(
          g.client.api(`/applications/${app.id}/federatedIdentityCredentials`).select(['id']),
          g.retry,
          o?.signal,
        ).get()) as { value?: unknown[] };
        federated = (fic.value?.length ?? 0) > 0;
      } catch (err) {
        const e = toAdapterError(err);
        // Apps without the feature, or a caller that cannot read it, simply have none we can see.
        if (e.detail.code !== 'notFound' && e.detail.code !== 'forbidden') throw err;
        opts.logger?.debug({ appId, code: e.detail.code }, 'federated credentials not readable');
      }
      return {
        objectId: app.id,
        appId: app.appId,
        ...(app.displayName ? { displayName: app.displayName } : {}),
        keyCredentials: (app.keyCredentials ?? []).map(toKeyCredential),
        hasFederatedCredentials: federated,
      };
    });
  }

  /** Waits until reads show what a write did; a write that does not show up in time is logged, not failed. */
  async function settle(appId: string, what: string, seen: (app: AppRegistration) => boolean, o?: CallOptions) {
    const r = await awaitConsistentRead(() => readApp(appId, o), seen, opts.clock, consistency, o?.signal);
    if (!r.settled) opts.logger?.warn({ appId, reads: r.reads }, `Graph reads do not show ${what} yet`);
    return r;
  }

  /** Loads the proof key and checks it can still sign: an expired key makes Graph refuse the proof. */
  async function proofSigner(app: AppRegistration, proofKey: KeyRef, o?: CallOptions) {
    const material = await opts.keyMaterial.load(proofKey, o);
    const now = opts.clock.now();
    const registered = app.keyCredentials.find((k) => k.thumbprint === material.thumbprint);
    // Callers settle their own writes in reads (addKey waits until the key is seen), so a proof key the app does
    // not show is not propagation: Graph would refuse its proof, and retrying cannot change that.
    if (!registered) {
      throw new AdapterError({
        code: 'invalidProof',
        message: `the proof key ${material.thumbprint} is not a credential of app ${app.appId}: sign with a key the app holds, or use PATCH`,
        retryable: false,
      });
    }
    const cert = new X509Certificate(material.certificatePem);
    const end = Math.min(
      new Date(cert.validTo).getTime(),
      registered.endDateTime ? Date.parse(registered.endDateTime) : Infinity,
    );
    if (end <= now) {
      throw new AdapterError({
        code: 'keyExpired',
        message: `the proof key ${material.thumbprint} of app ${app.appId} expired at ${new Date(end).toISOString()}: rotate with PATCH`,
        retryable: false,
      });
    }
    return material;
  }

  return {
    getApp: readApp,

    async addKey(appId, newKey, proofKey, o) {
      const app = await readApp(appId, o);
      const signer = await proofSigner(app, proofKey, o);
      const added = await opts.keyMaterial.load(newKey, o);
      const created = await classified({ operation: `Graph addKey on app ${appId}`, proof: true }, async () => {
        await appToken(appId, signer, o?.signal);
        const proof = await signProof(signer, app.objectId, opts.clock.now());
        const g = asApp(appId, signer);
        return (await withPolicy(g.client.api(`/applications/${app.objectId}/addKey`), g.retry, o?.signal).post({
          keyCredential: {
            type: 'AsymmetricX509Cert',
            usage: 'Verify',
            key: certificateDerBase64(added.certificatePem),
            displayName: o?.displayName ?? displayNameOf(added),
          },
          passwordCredential: null,
          proof,
        })) as GraphKeyCredential;
      });
      const credential = { ...toKeyCredential(created), thumbprint: added.thumbprint };
      opts.logger?.info(
        { appId, keyId: credential.keyId, thumbprint: added.thumbprint },
        'Graph addKey attached a key',
      );
      await settle(appId, `key ${credential.keyId}`, (a) => hasKeyId(a, credential.keyId), o);
      return credential;
    },

    async removeKey(appId, keyId, proofKey, o) {
      const app = await readApp(appId, o);
      const signer = await proofSigner(app, proofKey, o);
      await classified({ operation: `Graph removeKey ${keyId} on app ${appId}`, proof: true }, async () => {
        await appToken(appId, signer, o?.signal);
        const proof = await signProof(signer, app.objectId, opts.clock.now());
        const g = asApp(appId, signer);
        await withPolicy(g.client.api(`/applications/${app.objectId}/removeKey`), g.retry, o?.signal).post({
          keyId,
          proof,
        });
      });
      opts.logger?.info({ appId, keyId }, 'Graph removeKey removed a key');
      await settle(appId, `key ${keyId} gone`, (a) => !hasKeyId(a, keyId), o);
    },

    async patchKeyCredentials(appId, change, o) {
      const adds = await Promise.all((change.add ?? []).map((ref) => opts.keyMaterial.load(ref, o)));
      const removeIds = change.removeKeyIds ?? [];
      // Re-read just before writing: PATCH replaces the whole collection, so the merge must start from now.
      const before = await readApp(appId, o);
      const raw = await classified({ operation: `Graph: reading key credentials of app ${appId}` }, async () => {
        const g = graph();
        const r = (await withPolicy(
          g.client.api(`/applications/${before.objectId}`).select(['keyCredentials']),
          g.retry,
          o?.signal,
        ).get()) as { keyCredentials?: GraphKeyCredential[] };
        return r.keyCredentials ?? [];
      });
      const kept = raw.filter((k) => !removeIds.some((id) => sameId(id, k.keyId)));
      const present = new Set(raw.map((k) => thumbprintOfKeyCredential(k)));
      const fresh = adds
        .filter((m, i) => !present.has(m.thumbprint) && adds.findIndex((x) => x.thumbprint === m.thumbprint) === i)
        .map((m) => ({
          keyId: randomUUID(),
          type: 'AsymmetricX509Cert',
          usage: 'Verify',
          key: certificateDerBase64(m.certificatePem),
          displayName: o?.displayName ?? displayNameOf(m),
          ...validityOf(m),
          thumbprint: m.thumbprint,
        }));
      const nothingToDo = fresh.length === 0 && kept.length === raw.length;
      if (!nothingToDo) {
        await classified({ operation: `Graph PATCH keyCredentials of app ${appId}` }, async () => {
          const g = graph();
          await withPolicy(g.client.api(`/applications/${before.objectId}`), g.retry, o?.signal).patch({
            keyCredentials: [
              // Existing entries are matched by keyId; their key is not re-sent (null), as Graph returned it on a list.
              ...kept.map((k) => ({
                keyId: k.keyId,
                type: k.type,
                usage: k.usage,
                displayName: k.displayName,
                startDateTime: k.startDateTime,
                endDateTime: k.endDateTime,
                customKeyIdentifier: k.customKeyIdentifier,
                key: null,
              })),
              ...fresh.map(({ thumbprint: _t, ...k }) => k),
            ],
          });
        });
        opts.logger?.info(
          { appId, added: fresh.map((f) => f.thumbprint), removed: removeIds },
          'Graph PATCH keyCredentials merged',
        );
      }
      const expectKept = kept.map((k) => k.keyId);
      const expectAdded = fresh.map((f) => f.keyId);
      const wanted = (a: AppRegistration) =>
        [...expectKept, ...expectAdded].every((id) => hasKeyId(a, id)) && removeIds.every((id) => !hasKeyId(a, id));
      const r = nothingToDo ? { settled: true, last: before } : await settle(appId, 'the merged key set', wanted, o);
      if (!wanted(r.last)) {
        const missing = [...expectKept, ...expectAdded].filter((id) => !hasKeyId(r.last, id));
        throw new AdapterError({
          code: 'conflict',
          message: `after PATCH, app ${appId} ${missing.length ? `lacks key(s) ${missing.join(', ')}` : 'still holds a removed key'}; someone else may be writing its keys`,
          retryable: true,
        });
      }
      // A key that was already there counts as added: the merge is idempotent, and the caller asked for it.
      const addedThumbprints = new Set(adds.map((m) => m.thumbprint));
      return r.last.keyCredentials.filter((k) => addedThumbprints.has(k.thumbprint));
    },
  };
}
