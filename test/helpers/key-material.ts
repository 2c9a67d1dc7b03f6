/**
 * Searching artifacts for private key material (DESIGN I4): the keys a vault holds, as slices that catch a key copied
 * whole, in part, line-wrapped or JSON-escaped, and the files under a directory.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { parseCertificateSecret } from '../../src/adapters/azure/key-material.js';
import type { Sandbox } from '../../src/sandbox/index.js';

/** Every file under `dir` (recursively); none when `dir` does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Each file under `dir` with its text (a file gone meanwhile reads as empty). */
export async function textsUnder(dir: string): Promise<{ label: string; text: string }[]> {
  const files = await filesUnder(dir);
  return Promise.all(files.map(async (f) => ({ label: f, text: await readFile(f, 'utf8').catch(() => '') })));
}

/** The base64 body of each PEM `PRIVATE KEY` block in `pem`, whitespace removed. */
export function privateKeyBodies(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]+?)-----END/g)].map((m) =>
    m[1]!.replace(/\s/g, ''),
  );
}

/** A client of `vaultUrl` signed in as the sandbox's operator. */
export function vaultClient(sb: Sandbox, vaultUrl: string): SecretClient {
  const tlsOptions = { ca: sb.caPem };
  const credential = new ClientSecretCredential(sb.tenantId, sb.operator.clientId, sb.operator.clientSecret, {
    authorityHost: sb.urls.entra,
    disableInstanceDiscovery: true,
    tlsOptions,
  });
  return new SecretClient(vaultUrl, credential, { tlsOptions, disableChallengeResourceVerification: true });
}

/**
 * The secret material of one certificate version as a server reads it: the private key's PEM body, and for a
 * PKCS#12 secret also the secret's own base64 (the PFX, which holds the key).
 */
export async function versionKeyMaterial(client: SecretClient, name: string, version: string): Promise<string[]> {
  const secret = await client.getSecret(name, { version });
  const value = secret.value ?? '';
  const material = parseCertificateSecret(value, secret.properties.contentType);
  const found = privateKeyBodies(material.privateKeyPem);
  if (secret.properties.contentType === 'application/x-pkcs12') found.push(value.replace(/\s/g, ''));
  return found;
}

/**
 * A predicate: does a text hold any part of `keys`? 40-character slices every 200 characters of each, searched with
 * whitespace and JSON `\n`/`\r` escapes removed, so a key copied whole, in part or line-wrapped is caught.
 */
export function keyMaterialSearch(keys: string[]): (text: string) => boolean {
  const needles = keys.flatMap((k) =>
    Array.from({ length: Math.floor((k.length - 40) / 200) + 1 }, (_, i) => k.slice(i * 200, i * 200 + 40)),
  );
  return (text) => {
    const flat = text.replace(/\\[nr]|\s/g, '');
    return needles.some((needle) => flat.includes(needle));
  };
}
