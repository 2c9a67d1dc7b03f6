/**
 * `certrotate init`: discovers the tenant (as `discover` does, read-only) and writes a commented certrotate.yaml for
 * what it found (src/fleet/init-config.ts). The text is validated with the real config loader before it takes the
 * file's name, and the name is taken atomically: a half-written or invalid file never appears, and an existing file
 * is replaced only with `--force`.
 */
import { randomBytes } from 'node:crypto';
import { link, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { authForInit, initConfigText, initTargetCount } from '../fleet/init-config.js';
import { UsageError, type CommandContext } from './context.js';
import { runDiscovery } from './discover.js';

/** Options of `init`. */
export interface InitCommandOptions {
  out: string;
  force?: boolean;
  vault?: string[];
  environment?: string;
  dataverseUrl?: string;
}

/** `init`: exit 0 once the file is written and valid; 1 when it exists (without `--force`) or is refused. */
export async function initCommand(ctx: CommandContext, opts: InitCommandOptions): Promise<number> {
  const out = resolve(opts.out);
  const { report, config } = await runDiscovery(ctx, opts);
  const dataverseUrl =
    opts.dataverseUrl ??
    [...new Set(report.apps.flatMap((a) => (a.site?.dataverseUrl ? [a.site.dataverseUrl] : [])))][0];
  let text: string;
  try {
    text = initConfigText({
      report,
      tenantId: config.tenantId,
      cloud: config.cloud,
      auth: authForInit(config.auth),
      ...(dataverseUrl ? { dataverseUrl } : {}),
      generatedAt: new Date().toISOString(),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Written next to its final name (same filesystem, and relative paths resolve the same), validated, then renamed.
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, text, { flag: 'wx', mode: 0o600 });
  try {
    await loadConfig(tmp);
    if (opts.force) await rename(tmp, out);
    else {
      // link() fails with EEXIST if the name is taken, even by a file created a moment ago: no silent overwrite.
      try {
        await link(tmp, out);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UsageError(`${out} already exists; pass --force to replace it`);
        }
        throw err;
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const targets = initTargetCount(report);
  const env = authForInit(config.auth).clientSecretEnv;
  ctx.print({ formatVersion: 1, written: out, targets, counts: report.counts }, () =>
    [
      `Wrote ${out}: ${targets} target(s) from ${report.counts.apps} app(s) discovered; the loader accepts it.`,
      ...(env ? [`Set ${env} to the client secret before running certrotate with it.`] : []),
      'Keyvault targets use a `manual` server: pick the server kind for each, then run `certrotate doctor`.',
    ].join('\n'),
  );
  return 0;
}
