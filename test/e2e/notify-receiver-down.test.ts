/**
 * Delivery never harms a rotation: with every notification channel pointing at a receiver that is down for the whole
 * run, the rotation's outcome and exit code are what they are without notifications, the JSON document lists the
 * failed deliveries, the journal records them, and neither output nor state contains the channel URL or secret.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, editConfig, parseJson, startE2eSandbox, type RunDocument, type Sandbox } from '../helpers/sandbox.js';

const URL_SECRET = 'sig=DOWNRECEIVERSIG42';
const SIGNING_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('a notification receiver down for the whole run', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox();
  }, 120_000);
  afterAll(async () => sb?.stop());

  it('leaves the outcome and exit code unchanged and reports the failed deliveries', async () => {
    const config = await editConfig(sb, 'notify-down.yaml', (doc) =>
      doc.set('notify', [
        {
          name: 'pager',
          kind: 'webhook',
          urlEnv: 'T_HOOK_URL',
          secretEnv: 'T_HOOK_SECRET',
          events: ['succeeded', 'failed'],
        },
        { name: 'ops', kind: 'teams', urlEnv: 'T_TEAMS_URL', events: ['succeeded'] },
      ]),
    );
    const env = {
      // Port 9 (discard) on loopback: nothing listens, every attempt is refused.
      T_HOOK_URL: `http://127.0.0.1:9/hook?${URL_SECRET}`,
      T_HOOK_SECRET: SIGNING_SECRET,
      T_TEAMS_URL: `http://127.0.0.1:9/teams?${URL_SECRET}`,
    };
    const r = await cli(config, ['rotate', 'contoso-api', '--yes', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<RunDocument & { notifications: { channel: string; event: string; status: string }[] }>(r);
    expect(doc.outcome).toBe('succeeded');
    expect(doc.notifications.map((n) => `${n.channel}:${n.event}:${n.status}`).sort()).toEqual([
      'ops:succeeded:failed',
      'pager:succeeded:failed',
    ]);
    const stateDir = join(sb.dir, '.certrotate');
    const files = (await readdir(stateDir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    const state = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
    expect(state).toContain('notifyFailed');
    for (const text of [r.stdout, r.stderr, state]) {
      expect(text).not.toContain('DOWNRECEIVERSIG42');
      expect(text).not.toContain(SIGNING_SECRET.slice(6));
    }
  }, 120_000);
});
