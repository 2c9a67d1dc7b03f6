/**
 * The seeded world (DESIGN §6): the target definitions by name and the helpers that give an app a current key.
 * Times are relative to the sandbox clock at start, so "expires in 30 days" stays true whenever the sandbox runs.
 */
import { randomUUID } from 'node:crypto';
import type { Application, Directory } from './directory.js';
import type { KeyPool } from './key-pool.js';
import { createSelfSignedCertificate, type CertificateMaterial } from './pki.js';

export interface KeyVaultTargetSeed {
  kind: 'keyvault';
  name: string;
  vault: string;
  certificate: string;
  subject: string;
  /** Days until the current key expires. */
  daysLeft: number;
  /** Total validity of the current certificate, in days. */
  validityDays: number;
}

export interface PowerPagesTargetSeed {
  kind: 'power-pages';
  name: string;
  siteName: string;
  /** Days until the platform key expires; null = platform-managed identity (federated, no key). */
  daysLeft: number | null;
}

export type TargetSeed = KeyVaultTargetSeed | PowerPagesTargetSeed;

/** The most bench targets a sandbox seeds (`--targets`): a large tenant's fleet. */
export const MAX_SEEDED_TARGETS = 2000;

/** The default world plus `benchTargets` keyvault targets `bench-0001`… (due, like contoso-api). */
export function seededTargets(benchTargets: number): TargetSeed[] {
  const targets: TargetSeed[] = [
    {
      kind: 'keyvault',
      name: 'contoso-api',
      vault: 'kv-contoso',
      certificate: 'contoso-s2s',
      subject: 'CN=contoso-s2s',
      daysLeft: 30,
      validityDays: 730,
    },
    {
      kind: 'keyvault',
      name: 'fabrikam-api',
      vault: 'kv-fabrikam',
      certificate: 'fabrikam-s2s',
      subject: 'CN=fabrikam-s2s',
      daysLeft: 400,
      validityDays: 730,
    },
    { kind: 'power-pages', name: 'contoso-portal', siteName: 'contoso-portal', daysLeft: 20 },
    { kind: 'power-pages', name: 'northwind-portal', siteName: 'northwind-portal', daysLeft: null },
  ];
  for (let i = 1; i <= benchTargets; i++) {
    const name = `bench-${String(i).padStart(4, '0')}`;
    // Bench targets share one vault: a port per vault is enough to show isolation, and a fleet needs no more.
    targets.push({
      kind: 'keyvault',
      name,
      vault: 'kv-bench',
      certificate: `${name}-s2s`,
      subject: `CN=${name}-s2s`,
      daysLeft: 30,
      validityDays: 730,
    });
  }
  return targets;
}

/** Makes a certificate that expires `daysLeft` days from `nowMs` after `validityDays` in all. */
export async function certificateExpiringIn(
  pool: KeyPool,
  nowMs: number,
  subject: string,
  daysLeft: number,
  validityDays: number,
): Promise<CertificateMaterial> {
  const notAfter = new Date(nowMs + daysLeft * 86_400_000);
  const notBefore = new Date(notAfter.getTime() - validityDays * 86_400_000);
  return createSelfSignedCertificate(await pool.takeKeyPair(2048), { subject, notBefore, notAfter });
}

/** Registers `material` as the app's current key credential, already propagated (it has been there for months). */
export function registerCurrentKey(directory: Directory, app: Application, material: CertificateMaterial) {
  const credential = directory.keyCredentialFromCertificate(material.certDer, {
    keyId: randomUUID(),
    propagated: true,
  });
  directory.setKeyCredentials(app, [...app.keyCredentials, credential]);
  return credential;
}
