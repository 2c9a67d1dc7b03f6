/**
 * Test harness for the sandbox Key Vault: one vault on a fastify HTTPS instance at 127.0.0.1:0, trusted through a
 * throwaway CA made here, with the real `CertificateClient` / `SecretClient` pointed at it. Everything a test needs to
 * look at the wire (request log, raw HTTPS requests, the sandbox clock) is exposed; nothing intercepts HTTP.
 */
import '../../../src/sandbox/keyvault/reflect-metadata-shim.js';
import * as x509 from '@peculiar/x509';
import { CertificateClient, type CertificateClientOptions } from '@azure/keyvault-certificates';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { RestError } from '@azure/core-rest-pipeline';
import Fastify, { type FastifyInstance } from 'fastify';
import https from 'node:https';
import { webcrypto } from 'node:crypto';
import {
  createKeyVaultService,
  type KeyVaultCaller,
  type KeyVaultService,
  type KeyVaultServiceOptions,
} from '../../../src/sandbox/keyvault/index.js';

/** The api-version the installed SDKs send by default (certificates 4.10.3, secrets 4.11.2), pinned in clients. */
export const SERVICE_VERSION = '2025-07-01';
export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const AUTHORIZATION_URI = `https://login.sandbox.test/${TENANT_ID}`;
export const RESOURCE = 'https://vault.azure.net';
/** Bearer tokens the static verifier accepts, and who they stand for. */
export const TOKENS: Record<string, KeyVaultCaller> = {
  'token-operator': { appId: 'operator-app', objectId: 'operator-oid', tenantId: TENANT_ID },
  'token-reader': { appId: 'reader-app', objectId: 'reader-oid', tenantId: TENANT_ID },
};

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) } as const;

/** A new extractable RSA key pair, as the sandbox's pool hands them out. */
export async function generateKeyPair(modulusLength = 2048): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ ...RSA, modulusLength }, true, ['sign', 'verify']);
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, as PEM. */
export async function makeTlsMaterial(): Promise<{ caPem: string; keyPem: string; certPem: string }> {
  const now = Date.now();
  const caKeys = await generateKeyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=certrotate keyvault test CA',
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: RSA,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const serverKeys = await generateKeyPair();
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=127.0.0.1',
    issuer: ca.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: RSA,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { caPem: ca.toString('pem'), keyPem, certPem: server.toString('pem') };
}

/** The sandbox clock: real time plus an offset that tests move forward. */
/** The RestError an SDK call rejects with; fails the test when the call succeeds. */
export async function expectRestError(p: Promise<unknown>): Promise<RestError> {
  try {
    await p;
  } catch (e) {
    return e as RestError;
  }
  throw new Error('expected the SDK call to fail');
}

export class TestClock {
  offsetMs = 0;
  now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** A TokenCredential that hands out a fixed token and counts how often the SDK asked (reference §4.8). */
export class StaticCredential implements TokenCredential {
  calls: Array<{ scopes: string | string[]; tenantId?: string }> = [];
  constructor(private readonly token = 'token-operator') {}
  async getToken(scopes: string | string[], options?: { tenantId?: string }): Promise<AccessToken> {
    this.calls.push({ scopes, tenantId: options?.tenantId });
    return { token: this.token, expiresOnTimestamp: Date.now() + 3600_000 };
  }
}

export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
  authorized: boolean;
  /** The parsed JSON body (undefined when none was read, e.g. on a 401 challenge). */
  requestBody: unknown;
  responseText: string;
}

export interface KeyVaultHarness {
  service: KeyVaultService;
  app: FastifyInstance;
  url: string;
  caPem: string;
  clock: TestClock;
  requests: LoggedRequest[];
  /** Key pairs handed out by `takeKeyPair`, by modulus length. */
  keyRequests: number[];
  certificateClient(
    opts?: { token?: string; credential?: TokenCredential } & Partial<CertificateClientOptions>,
  ): CertificateClient;
  secretClient(opts?: { token?: string; credential?: TokenCredential } & Partial<SecretClientOptions>): SecretClient;
  /** A raw HTTPS request to the vault (no SDK), e.g. to see the challenge or a body the SDK would hide. */
  raw(
    method: string,
    path: string,
    opts?: { token?: string; body?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown; text: string }>;
  close(): Promise<void>;
}

/** Starts one vault. Options override the defaults (instant create, no throttling, every caller allowed). */
export async function startKeyVaultHarness(overrides: Partial<KeyVaultServiceOptions> = {}): Promise<KeyVaultHarness> {
  const tls = await makeTlsMaterial();
  const clock = new TestClock();
  const keyRequests: number[] = [];
  const service = createKeyVaultService({
    name: 'kv-test',
    authorizationUri: AUTHORIZATION_URI,
    resource: RESOURCE,
    verifyAccessToken: async (token) => TOKENS[token] ?? null,
    takeKeyPair: async (modulusLength) => {
      keyRequests.push(modulusLength);
      return generateKeyPair(modulusLength);
    },
    now: clock.now,
    createDelaySeconds: 0,
    ...overrides,
  });
  const app = Fastify({ https: { key: tls.keyPem, cert: tls.certPem } });
  const requests: LoggedRequest[] = [];
  const responses = new WeakMap<object, string>();
  app.addHook('onSend', async (request, _reply, payload) => {
    responses.set(request, typeof payload === 'string' ? payload : '');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    requests.push({
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      authorized: Boolean(request.headers.authorization),
      requestBody: request.body,
      responseText: responses.get(request) ?? '',
    });
  });
  service.register(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `https://127.0.0.1:${port}`;
  service.setBaseUrl(url);

  const clientOptions = { tlsOptions: { ca: tls.caPem }, disableChallengeResourceVerification: true };
  return {
    service,
    app,
    url,
    caPem: tls.caPem,
    clock,
    requests,
    keyRequests,
    certificateClient: ({ token, credential, ...opts } = {}) =>
      new CertificateClient(url, credential ?? new StaticCredential(token), {
        ...clientOptions,
        serviceVersion: SERVICE_VERSION,
        ...opts,
      }),
    secretClient: ({ token, credential, ...opts } = {}) =>
      new SecretClient(url, credential ?? new StaticCredential(token), {
        ...clientOptions,
        serviceVersion: SERVICE_VERSION,
        ...opts,
      }),
    raw: (method, path, opts = {}) =>
      new Promise((resolve, reject) => {
        const req = https.request(
          `${url}${path}`,
          {
            method,
            ca: tls.caPem,
            headers: {
              ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
              ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
              ...opts.headers,
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => {
              let body: unknown;
              try {
                body = text ? JSON.parse(text) : undefined;
              } catch {
                // Not JSON: the test reads `text` instead.
              }
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
            });
          },
        );
        req.on('error', reject);
        if (opts.body !== undefined) req.write(opts.body);
        req.end();
      }),
    close: () => app.close(),
  };
}
