/**
 * Trusting an extra CA (`cloud.caFile`, e.g. the sandbox's) for every HTTPS client in the process: `node:https`
 * (the Azure SDKs' pipeline, identity's token requests) and global `fetch` (the Graph client, Dataverse, webhooks).
 */
import tls from 'node:tls';

/**
 * Adds `caPem` to the process's default trusted CAs. Verified on Node 24.9 by running it: after
 * `tls.setDefaultCACertificates`, both `https.get` and global `fetch` accept a server signed by the added CA, even when
 * `fetch` had been used (and failed) before the call. Safe to call again: a CA already trusted is not added twice.
 * Returns false on a Node without `setDefaultCACertificates` (before 22.19 / 24.5), where the operator must start Node
 * with `NODE_EXTRA_CA_CERTS` instead; the Key Vault clients still get the CA through `tlsOptions`.
 */
export function trustExtraCa(caPem: string): boolean {
  const api = tls as typeof tls & {
    setDefaultCACertificates?: (certs: string[]) => void;
    getCACertificates?: (kind: 'default') => string[];
  };
  if (typeof api.setDefaultCACertificates !== 'function' || typeof api.getCACertificates !== 'function') return false;
  const current = api.getCACertificates('default');
  const normalise = (pem: string) => pem.replace(/\r/g, '').trim();
  const wanted = splitPemCertificates(caPem).filter((p) => !current.some((c) => normalise(c) === normalise(p)));
  if (wanted.length > 0) api.setDefaultCACertificates([...current, ...wanted]);
  return true;
}

/** The CERTIFICATE blocks of a PEM file, each as its own PEM string. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => `${p}\n`) ?? [];
}
