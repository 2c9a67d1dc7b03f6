/** Printed next-step commands carry the --config in use (issue 10, 9a), built in one place (src/next-step.ts). */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nextCommand, withConfigOption } from '../../src/next-step.js';

describe('nextCommand', () => {
  it('adds --config for a non-default config, and nothing for the default one', () => {
    expect(nextCommand(['resume', 'r-1'], '/etc/certrotate/prod.yaml')).toBe(
      'certrotate resume r-1 --config /etc/certrotate/prod.yaml',
    );
    expect(nextCommand(['resume', 'r-1'], undefined)).toBe('certrotate resume r-1');
    expect(nextCommand(['resume', 'r-1'], resolve('certrotate.yaml'))).toBe('certrotate resume r-1');
  });

  it('quotes a path a shell would split', () => {
    expect(nextCommand(['show', 'r-1'], '/my configs/a.yaml')).toBe(
      "certrotate show r-1 --config '/my configs/a.yaml'",
    );
  });
});

describe('withConfigOption', () => {
  it('adds --config to every backticked command of a message, once', () => {
    const text =
      'target "x" has an unfinished run r-1; continue it with `certrotate resume r-1` or withdraw it with ' +
      '`certrotate rollback r-1`; already `certrotate show r-1 --config b.yaml`';
    expect(withConfigOption(text, 'b.yaml')).toBe(
      'target "x" has an unfinished run r-1; continue it with `certrotate resume r-1 --config b.yaml` or withdraw it ' +
        'with `certrotate rollback r-1 --config b.yaml`; already `certrotate show r-1 --config b.yaml`',
    );
    expect(withConfigOption(text, undefined)).toBe(text);
  });
});
