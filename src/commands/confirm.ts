import { createInterface } from 'node:readline/promises';

/**
 * Asks a yes/no question on the terminal (stderr, so stdout stays clean). Anything but an explicit yes is a no: a
 * mutating step on an app registration must never go ahead on a stray Enter.
 */
export async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** The confirmation callback of a guided run: shows what the step will change, then asks. */
export function guidedConfirm(): (step: string, summary: string) => Promise<boolean> {
  return async (step, summary) => {
    process.stderr.write(`\n${step}: ${summary}\n`);
    return askYesNo('Go ahead?');
  };
}
