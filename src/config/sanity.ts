/**
 * Checks across fields that the schema cannot see one field at a time: timings that contradict each other or the
 * certificate's validity. Each finding names every field involved, the values and what was expected, because a
 * config that passes the schema but makes every new key due at once rotates on every scheduled run.
 */
import { formatDuration } from './duration.js';
import type { Config, TargetConfig } from './schema.js';

const DAY_MS = 86_400_000;

/** A `verifyTimeout` below this cannot see even one token request through: refused. */
export const MIN_VERIFY_TIMEOUT_MS = 1_000;

/**
 * Entra ID takes seconds to about ten minutes to accept a new key (reference/graph-entra.md §7); a `verifyTimeout` below
 * this rolls back keys that would have worked a moment later, so it is said (the sandbox's tests use seconds on purpose).
 */
const SHORT_VERIFY_TIMEOUT_MS = 60_000;

/**
 * How long a Power Pages platform key lives at the shortest: the platform's documents say one year on newer sites and
 * two years on older ones (reference/powerpages-anchors.md §1.3, contradictory), so design for one: a `rotateBefore` of
 * a year or more would make such a key due the moment the platform issues it.
 */
const PLATFORM_KEY_MIN_VALIDITY_MS = 365 * DAY_MS;

/** One problem: the field it is reported at (as zod paths are), the text, and whether it refuses the config. */
export interface SanityFinding {
  path: (string | number)[];
  severity: 'error' | 'warning';
  message: string;
}

/** A certificate's validity in ms, as Key Vault computes it (months of 365/12 days). */
function validityMs(validityMonths: number): number {
  return Math.round((validityMonths * 365) / 12) * DAY_MS;
}

/** Where a timing of a target comes from: its own override, else `defaults`. */
function timing(
  cfg: Config,
  target: TargetConfig,
  index: number,
  field: 'rotateBefore' | 'verifyTimeout' | 'retireAfter',
): { ms: number; path: (string | number)[] } {
  const own = target[field];
  if (own !== undefined) return { ms: own, path: ['targets', index, field] };
  return { ms: cfg.defaults[field], path: ['defaults', field] };
}

function show(path: (string | number)[]): string {
  return path.reduce<string>(
    (out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg),
    '',
  );
}

/** The cross-field findings of a validated config, errors first. */
export function checkConfigSanity(cfg: Config): SanityFinding[] {
  const findings: SanityFinding[] = [];
  cfg.targets.forEach((target, i) => {
    const rotateBefore = timing(cfg, target, i, 'rotateBefore');
    const verifyTimeout = timing(cfg, target, i, 'verifyTimeout');
    const retireAfter = timing(cfg, target, i, 'retireAfter');
    const who = `target ${target.name}`;

    if (verifyTimeout.ms < MIN_VERIFY_TIMEOUT_MS) {
      findings.push({
        path: verifyTimeout.path,
        severity: 'error',
        message:
          `${who}: got ${formatDuration(verifyTimeout.ms)}; expected at least ${formatDuration(MIN_VERIFY_TIMEOUT_MS)}: ` +
          'verification waits while Entra ID propagates the new key, which takes seconds to minutes (default 10m)',
      });
    } else if (verifyTimeout.ms < SHORT_VERIFY_TIMEOUT_MS) {
      findings.push({
        path: verifyTimeout.path,
        severity: 'warning',
        message:
          `${who}: ${formatDuration(verifyTimeout.ms)} is shorter than Entra ID's usual propagation (up to about 10 ` +
          'minutes): a good new key may be rolled back before it is accepted',
      });
    }

    if (target.kind === 'keyvault') {
      const validity = validityMs(target.keyVault.validityMonths);
      const validityPath = show(['targets', i, 'keyVault', 'validityMonths']);
      const validityText = `${validityPath} ${target.keyVault.validityMonths} (about ${Math.round(validity / DAY_MS)} days)`;
      if (rotateBefore.ms >= validity) {
        findings.push({
          path: rotateBefore.path,
          severity: 'error',
          message:
            `${who}: got ${formatDuration(rotateBefore.ms)}, not shorter than ${validityText}: every new key would be ` +
            'due the moment it is issued, so each scheduled run would rotate again; expected rotateBefore well below ' +
            'the validity (e.g. 60d)',
        });
      } else if (rotateBefore.ms > validity / 2) {
        findings.push({
          path: rotateBefore.path,
          severity: 'warning',
          message:
            `${who}: ${formatDuration(rotateBefore.ms)} is more than half of ${validityText}: a new key is rotated ` +
            `after ${Math.round((validity - rotateBefore.ms) / DAY_MS)} days of use`,
        });
      }
      if (retireAfter.ms >= validity) {
        findings.push({
          path: retireAfter.path,
          severity: 'error',
          message:
            `${who}: got ${formatDuration(retireAfter.ms)}, not shorter than ${validityText}: the old key would be ` +
            'kept past the new key’s whole life; expected a grace period of hours or days (0s retires at once)',
        });
      }
    } else if (rotateBefore.ms >= PLATFORM_KEY_MIN_VALIDITY_MS) {
      findings.push({
        path: rotateBefore.path,
        severity: 'warning',
        message:
          `${who}: ${formatDuration(rotateBefore.ms)} is a year or more; Power Pages issues one-year keys on newer ` +
          'sites, which would be due the moment the platform issues them',
      });
    }

    if (retireAfter.ms > 0 && retireAfter.ms >= rotateBefore.ms && rotateBefore.ms < validityMsOf(target)) {
      findings.push({
        path: retireAfter.path,
        severity: 'warning',
        message:
          `${who}: ${formatDuration(retireAfter.ms)} is not shorter than ${show(rotateBefore.path)} ` +
          `${formatDuration(rotateBefore.ms)}: a key rotated when due may expire on its own before its grace period ends`,
      });
    }
  });
  return findings.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}

function validityMsOf(target: TargetConfig): number {
  return target.kind === 'keyvault' ? validityMs(target.keyVault.validityMonths) : PLATFORM_KEY_MIN_VALIDITY_MS;
}
