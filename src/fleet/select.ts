/**
 * Which configured targets a fleet run (`rotate --due | --targets a,b | --match GLOB`) takes: pure selection over
 * the configuration's target names, in configuration order, with usage errors that name the option and the value.
 */
import { matchesGlob } from 'node:path';
import { UsageError } from '../errors.js';

/** How a fleet run picks its targets. At least one is given; `--targets` and `--match` narrow, `--due` filters. */
export interface FleetSelection {
  /** Only the targets whose key is due (decided later, from each target's observation). */
  due?: boolean;
  /** Exactly these target names (comma-separated on the command line). */
  targets?: string[];
  /** Target names matching this glob (`*`, `?`, `[…]`). */
  match?: string;
}

/** True when the options ask for a fleet run rather than one TARGET. */
export function isFleetSelection(sel: FleetSelection): boolean {
  return Boolean(sel.due || sel.targets !== undefined || sel.match !== undefined);
}

/** Splits `--targets a,b` into names; blanks and duplicates are usage errors. */
export function parseTargetList(value: string): string[] {
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) {
    throw new UsageError(
      `option --targets: "${value}" has an empty name; expected names separated by commas, e.g. a,b`,
    );
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UsageError(`option --targets: "${n}" is listed twice in "${value}"`);
    seen.add(n);
  }
  return names;
}

/**
 * The configured target names a fleet run considers, in configuration order. `--targets` names must all exist;
 * `--match` must match at least one; both together take the names in the list that also match the glob.
 */
export function selectTargets(configured: readonly string[], sel: FleetSelection): string[] {
  let names = [...configured];
  if (sel.targets !== undefined) {
    const unknown = sel.targets.filter((n) => !configured.includes(n));
    if (unknown.length) {
      throw new UsageError(
        `option --targets: ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in ` +
          `the configuration; expected names from: ${configured.length ? configured.join(', ') : '(no targets configured)'}`,
      );
    }
    names = names.filter((n) => sel.targets!.includes(n));
  }
  if (sel.match !== undefined) {
    const glob = sel.match;
    const matched = names.filter((n) => matchesGlob(n, glob));
    if (!matched.length) {
      throw new UsageError(
        `option --match: "${glob}" matches no ${sel.targets ? 'target given with --targets' : 'configured target'}; ` +
          `expected a glob over target names (e.g. "prod-*"); configured: ${configured.join(', ') || '(none)'}`,
      );
    }
    names = matched;
  }
  if (!names.length) throw new UsageError('rotate --due: the configuration has no targets');
  return names;
}

/** Parses `--concurrency N`: a whole number from 1 to 64. */
export function parseConcurrency(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new UsageError(`option --concurrency: "${value}" is not a whole number from 1 to 64`);
  }
  return n;
}
