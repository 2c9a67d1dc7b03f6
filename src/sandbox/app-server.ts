/**
 * An application server of a keyvault target: it connects to Dataverse as an application user with a certificate.
 * `POST /admin/s2s-key {secretId, thumbprint}` makes it pull the key from Key Vault with its own identity (the real
 * SecretClient) and use it, keeping the previous key for rollback; `GET /health` acquires a Dataverse token with the
 * key it holds (a fresh real ClientCertificateCredential each time) and calls WhoAmI.
 *
 * It is the reference for the webhook contract (README, server kinds): it never moves to a key older (by the
 * certificate's notBefore) than the one it holds. An install of an older key, by the request's `notBefore` token or
 * by the certificate it pulled, is refused with 409 `{code: "serverHasNewerKey", inUse: {thumbprint, notBefore}}`;
 * a restore (`action: "restore"`) may go back, but only in place of the key it names in `replaces`.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { SecretClient, parseKeyVaultSecretIdentifier } from '@azure/keyvault-secrets';
import forge from 'node-forge';
import type { History } from './history.js';
import { thumbprintOf, toPem } from './pki.js';

/** The key an app server uses: certificate and private key as one PEM (held in memory only). */
export interface ServerKey {
  thumbprint: string;
  pemBundle: string;
}

export interface AppServerOptions {
  /** The target's name; the server is named after it. */
  name: string;
  tenantId: string;
  /** App (client) id the server connects to Dataverse as. */
  appId: string;
  authorityHost: string;
  dataverseUrl(): string;
  caPem: string;
  /** The server's own Key Vault identity (a client-secret app the sandbox seeds). */
  vaultIdentity: { clientId: string; clientSecret: string };
  history: History;
  initialKey: ServerKey;
}

export interface AppServer {
  readonly name: string;
  readonly appId: string;
  current(): ServerKey;
  previous(): ServerKey | undefined;
  register(app: FastifyInstance): void;
}

/** Splits a PEM bundle or a base64 PKCS#12 (Key Vault's two secret encodings) into certificate and key PEM. */
export function keyFromSecret(value: string, contentType: string | undefined): ServerKey {
  if (contentType === 'application/x-pkcs12' || !value.includes('-----BEGIN')) {
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.decode64(value)), '');
    const oids = forge.pki.oids as Record<string, string>;
    const bag = (type: string) => p12.getBags({ bagType: oids[type] as string })[oids[type] as string]?.[0];
    const certBag = bag('certBag');
    const keyBag = bag('pkcs8ShroudedKeyBag') ?? bag('keyBag');
    if (!certBag?.cert || !keyBag?.key) throw new Error('the PKCS#12 secret holds no certificate and key');
    const certDer = forge.asn1.toDer(forge.pki.certificateToAsn1(certBag.cert)).getBytes();
    const der = new Uint8Array(Buffer.from(certDer, 'binary'));
    const keyInfo = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key as forge.pki.rsa.PrivateKey));
    const keyDer = new Uint8Array(Buffer.from(forge.asn1.toDer(keyInfo).getBytes(), 'binary'));
    return { thumbprint: thumbprintOf(der), pemBundle: toPem('CERTIFICATE', der) + toPem('PRIVATE KEY', keyDer) };
  }
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(value)?.[0];
  if (!certPem || !/PRIVATE KEY-----/.test(value)) throw new Error('the PEM secret holds no certificate and key');
  return { thumbprint: thumbprintOf(new Uint8Array(new X509Certificate(certPem).raw)), pemBundle: value };
}

/** The notBefore (ISO-8601) of the certificate in a key's PEM bundle. */
export function notBeforeOfKey(key: ServerKey): string {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(key.pemBundle)?.[0];
  return pem ? new Date(new X509Certificate(pem).validFrom).toISOString() : new Date(0).toISOString();
}

/** What the webhook accepts: `secretId` and `thumbprint`, plus the fencing token and the restore fields. */
interface InstallRequest {
  secretId?: unknown;
  thumbprint?: unknown;
  notBefore?: unknown;
  runId?: unknown;
  action?: unknown;
  replaces?: unknown;
}

function whoAmI(dataverseUrl: string, token: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${dataverseUrl}/api/data/v9.2/WhoAmI`,
      { method: 'GET', ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export function createAppServer(opts: AppServerOptions): AppServer {
  let current = opts.initialKey;
  let previous: ServerKey | undefined;
  const tlsOptions = { ca: opts.caPem };

  function use(next: ServerKey) {
    previous = current;
    current = next;
    opts.history.record({ kind: 'serverKey', server: opts.name, thumbprint: next.thumbprint });
  }

  return {
    name: opts.name,
    appId: opts.appId,
    current: () => current,
    previous: () => previous,
    register(app) {
      app.post('/admin/s2s-key', async (req, reply) => {
        const body = (req.body ?? {}) as InstallRequest;
        if (typeof body.secretId !== 'string') return reply.code(400).send({ error: 'secretId is required' });
        const wanted = typeof body.thumbprint === 'string' ? body.thumbprint.toUpperCase() : undefined;
        const restore = body.action === 'restore';
        const replaces = typeof body.replaces === 'string' ? body.replaces.toUpperCase() : undefined;
        // Installing the key already in use is a no-op, so a webhook retried after a lost reply converges.
        if (wanted && wanted === current.thumbprint) {
          return {
            status: 'unchanged',
            thumbprint: current.thumbprint,
            previousThumbprint: previous?.thumbprint ?? null,
          };
        }
        /** Whether the rule "never backwards" allows moving to a key that starts at `notBefore`. */
        const allowed = (notBefore: number) =>
          restore && replaces !== undefined
            ? replaces === current.thumbprint
            : !(notBefore < Date.parse(notBeforeOfKey(current)));
        const refuse = () => {
          const inUse = { thumbprint: current.thumbprint, notBefore: notBeforeOfKey(current) };
          return reply.code(409).send({
            error: `the server uses key ${inUse.thumbprint} (notBefore ${inUse.notBefore}), newer than the key offered`,
            code: 'serverHasNewerKey',
            inUse,
          });
        };
        // The token is checked before Key Vault is read: a stale request is turned away without touching the vault.
        const claimed = typeof body.notBefore === 'string' ? Date.parse(body.notBefore) : Number.NaN;
        if (!allowed(claimed)) return refuse();
        let next: ServerKey;
        try {
          const id = parseKeyVaultSecretIdentifier(body.secretId);
          const credential = new ClientSecretCredential(
            opts.tenantId,
            opts.vaultIdentity.clientId,
            opts.vaultIdentity.clientSecret,
            {
              authorityHost: opts.authorityHost,
              disableInstanceDiscovery: true,
              tlsOptions,
            },
          );
          const client = new SecretClient(id.vaultUrl, credential, {
            tlsOptions,
            disableChallengeResourceVerification: true,
          });
          const secret = await client.getSecret(id.name, id.version ? { version: id.version } : {});
          next = keyFromSecret(secret.value ?? '', secret.properties.contentType);
        } catch (err) {
          return reply.code(502).send({ error: `could not read the key from Key Vault: ${(err as Error).message}` });
        }
        if (wanted && wanted !== next.thumbprint) {
          return reply.code(409).send({ error: `the secret holds thumbprint ${next.thumbprint}, not ${wanted}` });
        }
        // Checked again with the certificate itself, after the await: a request without a token (or with a wrong
        // one), or a newer key installed while this one was being read, must not move the server backwards.
        const changed = next.thumbprint !== current.thumbprint;
        if (changed && !allowed(Date.parse(notBeforeOfKey(next)))) return refuse();
        if (changed) use(next);
        return {
          status: changed ? 'installed' : 'unchanged',
          thumbprint: current.thumbprint,
          previousThumbprint: previous?.thumbprint ?? null,
        };
      });

      app.post('/admin/s2s-key/rollback', async (_req, reply) => {
        if (!previous) return reply.code(409).send({ error: 'no previous key to roll back to' });
        use(previous);
        return {
          status: 'rolledBack',
          thumbprint: current.thumbprint,
          previousThumbprint: previous?.thumbprint ?? null,
        };
      });

      app.get('/health', async (_req, reply) => {
        const inUse = current;
        const base = {
          server: opts.name,
          appId: opts.appId,
          thumbprint: inUse.thumbprint,
          previousThumbprint: previous?.thumbprint ?? null,
        };
        try {
          // A fresh credential per check: MSAL caches tokens per instance, and health must prove the key works now.
          const credential = new ClientCertificateCredential(
            opts.tenantId,
            opts.appId,
            { certificate: inUse.pemBundle },
            { authorityHost: opts.authorityHost, disableInstanceDiscovery: true, tlsOptions },
          );
          const token = await credential.getToken(`${opts.dataverseUrl()}/.default`);
          const res = await whoAmI(opts.dataverseUrl(), token.token, opts.caPem);
          if (res.status !== 200) {
            return reply
              .code(503)
              .send({ ...base, status: 'unhealthy', error: `WhoAmI answered ${res.status}: ${res.body}` });
          }
          const who = JSON.parse(res.body) as { UserId: string };
          return { ...base, status: 'healthy', userId: who.UserId };
        } catch (err) {
          const message = (err as Error).message;
          const aadsts = /AADSTS\d+[^\n]*/.exec(message)?.[0] ?? message;
          return reply.code(503).send({ ...base, status: 'unhealthy', error: aadsts });
        }
      });
    },
  };
}
