import { readFile } from 'node:fs/promises';

/** A fenced shell block of a runbook marked ```sh runnable. */
export interface RunnableBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

/** The ```sh runnable blocks of a Markdown file, in order. */
export async function runnableBlocks(file: string): Promise<RunnableBlock[]> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const blocks: RunnableBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash) runnable\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ file, line: start + 1, code: body.join('\n') });
  }
  return blocks;
}
