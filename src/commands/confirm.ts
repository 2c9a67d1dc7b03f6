import { confirm, isCancel } from '@clack/prompts';

/** An operator's answer to a step's question: go ahead, decline (the run parks), or Ctrl-C (stop, resumable). */
export type StepAnswer = 'yes' | 'no' | 'interrupt';

/** Where a question is asked. */
export interface AskOptions {
  /** Keys come from here (default stdin). */
  input?: NodeJS.ReadableStream;
  /** The prompt is drawn here (default stderr, so stdout stays clean for `--json`). */
  output?: NodeJS.WritableStream;
  /** Aborted on Ctrl-C or SIGTERM: the prompt closes and the answer is `interrupt`. */
  signal?: AbortSignal;
}

interface KeyInfo {
  ctrl?: boolean;
  name?: string;
}

/**
 * Asks a yes/no question on the terminal with @clack/prompts. No is selected until the operator moves to yes, so a
 * stray Enter never lets a mutating step on an app registration go ahead; `y` and `n` answer at once; Esc is no.
 * Ctrl-C is not a no: the prompt holds the terminal in raw mode, so the key arrives here instead of as SIGINT, and it
 * is reported as `interrupt` so the caller stops the run the way SIGINT would.
 */
export async function askToProceed(message: string, opts: AskOptions = {}): Promise<StepAnswer> {
  const input = (opts.input ?? process.stdin) as NodeJS.ReadStream;
  const output = (opts.output ?? process.stderr) as NodeJS.WriteStream;
  let ctrlC = false;
  // Registered before the prompt's own listener, so it has seen the key by the time the prompt reports a cancel.
  const onKey = (_: unknown, key?: KeyInfo) => {
    if (key?.ctrl && key.name === 'c') ctrlC = true;
  };
  input.on('keypress', onKey);
  try {
    const answer = await confirm({
      message,
      active: 'Yes',
      inactive: 'No (park the run)',
      initialValue: false,
      input,
      output,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (isCancel(answer)) return ctrlC || opts.signal?.aborted ? 'interrupt' : 'no';
    return answer ? 'yes' : 'no';
  } finally {
    input.off('keypress', onKey);
  }
}
