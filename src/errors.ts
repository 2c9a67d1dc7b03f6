/** A mistake in how certrotate was called (unknown target, bad option value): exit 1 with the message, no stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
