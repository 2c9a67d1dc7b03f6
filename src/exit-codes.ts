/**
 * The exit codes of DESIGN §5, in one place: every command returns one of these, never a literal.
 */
import type { RotationOutcome } from './machines/rotation-types.js';

/** certrotate's exit codes (DESIGN §5). */
export const ExitCode = {
  /** Succeeded, or nothing to do. */
  ok: 0,
  /** An error: bad config or usage, a broken or unrotatable target, a failed or rolled-back run. */
  error: 1,
  /** Changes pending (only with `--detailed-exitcode`). */
  changesPending: 2,
  /** Parked: awaiting an operator, a retirement grace period, or a service that is unavailable. */
  parked: 3,
  /** The target is held by another run (its lock, or an unfinished run of it). */
  locked: 4,
  /** Interrupted by Ctrl-C; the run is resumable. */
  interrupted: 130,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The exit code for a run's outcome (DESIGN §5). An unfinished run (outcome null) is an error here: only the command,
 * which knows that Ctrl-C stopped it, turns that into {@link ExitCode.interrupted} (run-support `runExitCode`); a
 * run stopped by SIGTERM or a lost snapshot write stays 1.
 */
export function exitCodeFor(outcome: RotationOutcome | null): ExitCodeValue {
  switch (outcome) {
    case 'succeeded':
    case 'noChange':
      return ExitCode.ok;
    case 'awaitingOperator':
    case 'awaitingRetirement':
      return ExitCode.parked;
    default:
      return ExitCode.error;
  }
}
