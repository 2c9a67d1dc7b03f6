/**
 * A `file` server target: the server reads its key and certificate from a PEM file. certrotate writes it atomically
 * (mode 0600) and keeps the key it replaces beside it (`<path>.previous`, mode 0600) for rollback. This is the one
 * place a private key is written to disk (DESIGN I4), because the server's own key store is that file. The file never
 * moves to a key older (by notBefore) than the one it holds, except for the rollback to the key kept in `.previous`.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { readFileIfExists, writeFileAtomic } from '../state/atomic-file.js';
import { AdapterError, type CallOptions, type KeyRef, type ServerKeyTarget } from '../ports.js';
import type { KeyMaterialLoader } from '../azure/key-material.js';
import { defineServerKind } from './server-kind.js';

/** `server: { kind: file, path }` (DESIGN §5a); `path` is relative to the config file. */
export const fileServerSchema = z.strictObject({
  kind: z.literal('file'),
  /** Where the server reads its PEM key and certificate; written atomically, mode 0600. */
  path: z.string().min(1),
});

type FileConfig = z.output<typeof fileServerSchema>;

/**
 * key-material.ts loads the Key Vault SDK and node-forge; the config schema imports this module, so it is loaded
 * only when a key file is written (`certrotate runs` must not pay for the SDKs).
 */
const keyMaterialCodec = () => import('../azure/key-material.js');

/** Options of {@link createFileTarget}. */
export interface FileTargetOptions {
  keyMaterial: KeyMaterialLoader;
  logger?: Logger;
}

/** The thumbprint and notBefore (ISO-8601) of the first certificate in a PEM file; undefined when there is none. */
export async function certificateOfFile(path: string): Promise<{ thumbprint: string; notBefore: string } | undefined> {
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (!pem) return undefined;
  const cert = new X509Certificate(pem);
  return {
    thumbprint: cert.fingerprint.replace(/:/g, '').toUpperCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
  };
}

/** The thumbprint of the first certificate in a PEM file, or undefined when the file does not exist. */
export async function thumbprintOfFile(path: string): Promise<string | undefined> {
  return (await certificateOfFile(path))?.thumbprint;
}

/** The `.previous` file beside `path`. */
export const previousPathOf = (path: string) => `${path}.previous`;

/** A `file` {@link ServerKeyTarget}. */
export function createFileTarget(target: string, server: FileConfig, opts: FileTargetOptions): ServerKeyTarget {
  const path = server.path;
  const previousPath = previousPathOf(path);

  async function put(key: KeyRef, action: 'install' | 'restore', o?: CallOptions) {
    const wanted = key.thumbprint.toUpperCase();
    try {
      const inUse = await certificateOfFile(path);
      const current = inUse?.thumbprint;
      // Observe first: the key in use is not rewritten, so a re-run after a crash leaves `.previous` alone.
      if (current === wanted) return;
      let next: string | undefined;
      // A rollback prefers the key kept beside the file: it needs no Key Vault read and works with the vault down.
      if (action === 'restore' && (await thumbprintOfFile(previousPath)) === wanted) {
        next = await readFile(previousPath, 'utf8');
        const parsed = (await keyMaterialCodec()).parseCertificateSecret(next, 'application/x-pem-file');
        if (parsed.thumbprint !== wanted) next = undefined;
      }
      // Servers never move backwards: a key older than the one in the file is refused, unless this is the rollback
      // of the key that replaced it (`.previous` holds it). A late install from a stale run lands here.
      if (next === undefined) {
        const codec = await keyMaterialCodec();
        const material = await opts.keyMaterial.load(key, o);
        const notBefore = codec.notBeforeOfPem(material.certificatePem);
        if (inUse && Date.parse(inUse.notBefore) > Date.parse(notBefore)) {
          throw new AdapterError({
            code: 'serverHasNewerKey',
            message: `server ${target}: ${path} holds key ${inUse.thumbprint} (notBefore ${inUse.notBefore}), newer than ${wanted} (notBefore ${notBefore}): not ${action === 'install' ? 'installed' : 'restored'}`,
            retryable: false,
          });
        }
        next = codec.pemBundle(material);
      }
      if (current !== undefined) await writeFileAtomic(previousPath, await readFile(path, 'utf8'));
      await writeFileAtomic(path, next);
      opts.logger?.info({ target, thumbprint: wanted, previous: current, action }, 'key file written');
    } catch (err) {
      if (err instanceof AdapterError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new AdapterError({
        code: e.code === 'EACCES' || e.code === 'EPERM' ? 'forbidden' : 'unknown',
        message: `server ${target}: cannot ${action} the key at ${path}: ${e.message}`,
        retryable: false,
      });
    }
  }

  return {
    manual: false,
    async currentKey() {
      const thumbprint = await thumbprintOfFile(path);
      return thumbprint ? { thumbprint } : {};
    },
    install: (key, o) => put(key, 'install', o),
    restore: (key, o) => put(key, 'restore', o),
  };
}

/** The `file` server kind. */
export const fileServer = defineServerKind({
  kind: 'file',
  schema: fileServerSchema,
  resolvePaths(server, absolute) {
    server.path = absolute(server.path);
  },
  create: (target, server, deps) =>
    createFileTarget(target, server, {
      keyMaterial: deps.keyMaterial,
      ...(deps.logger ? { logger: deps.logger } : {}),
    }),
});
