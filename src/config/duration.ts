/** Duration units of the config (DESIGN §5a): seconds, minutes, hours, days. */
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The pattern a duration must match: a whole number and one unit, e.g. `30s`, `10m`, `12h`, `60d`. */
export const DURATION_PATTERN = /^(\d+)([smhd])$/;

/** Parses `30s`, `10m`, `12h` or `60d` into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Formats milliseconds as the largest whole unit, the inverse of {@link parseDuration} for whole values. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', UNITS.d!],
    ['h', UNITS.h!],
    ['m', UNITS.m!],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
