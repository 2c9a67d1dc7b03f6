import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.js';

const pinoLoaded = (): boolean =>
  Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\/]node_modules[\\/]pino[\\/]pino\.js$/.test(k));

async function logFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'certrotate-lazy-log-')), 'logs', 'run.log');
}

describe('createLogger before its first line (fast start)', () => {
  it('loads pino only for the first line at an enabled level', async () => {
    const file = await logFile();
    const log = createLogger({ level: 'info', file, pretty: false });
    log.debug('below the level');
    expect(log.isLevelEnabled('debug')).toBe(false);
    expect(log.isLevelEnabled('warn')).toBe(true);
    log.flush();
    expect(pinoLoaded()).toBe(false);
    log.info({ thumbprint: 'ABCDEF' }, 'first line');
    expect(pinoLoaded()).toBe(true);
    log.flush();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, thumbprint: 'ABCDEF', msg: 'first line' });
  });

  it('creates the --log-file with mode 0600 at start, before any line', async () => {
    const file = await logFile();
    createLogger({ level: 'info', file, pretty: false });
    expect(await readFile(file, 'utf8')).toBe('');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('keeps a level set before the first line', async () => {
    const file = await logFile();
    const log = createLogger({ level: 'info', file, pretty: false });
    log.level = 'warn';
    expect(log.level).toBe('warn');
    log.info('not written');
    log.warn('written');
    expect(log.level).toBe('warn');
    log.flush();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['written']);
  });

  it('refuses an unknown level as pino does', () => {
    const log = createLogger({ level: 'info', pretty: false });
    expect(() => {
      log.level = 'loud';
    }).toThrow(/unknown level/);
  });
});
