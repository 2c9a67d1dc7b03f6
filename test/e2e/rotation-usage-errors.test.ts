/**
 * Broken configuration and arguments from the command line: each exits 1 with one message that names the field or
 * option, the value given and what was expected, and never a stack trace (DESIGN §5). None of them needs a service:
 * every one is refused before certrotate talks to Azure.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const valid = `tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
defaults: { rotateBefore: 60d, verifyTimeout: 10m, retireAfter: 0s }
targets:
  - name: contoso-api
    kind: keyvault
    app: { appId: 11111111-2222-3333-4444-555555555555 }
    keyVault: { url: https://kv-contoso.vault.azure.net, certificate: contoso-s2s, subject: CN=contoso-s2s }
    server: { kind: webhook, url: https://api.contoso.example/admin/s2s-key }
    verify: { dataverseUrl: https://contoso.crm.dynamics.com }
`;

/** A broken config: a name, the edit that breaks it, and what the message must say. */
const BROKEN_CONFIGS: [string, (yaml: string) => string, RegExp[]][] = [
  [
    'an unknown key',
    (y) => y.replace('retireAfter: 0s', 'retireAfer: 0s'),
    [/line 2, defaults\.retireAfer/, /unknown key/, /expected/],
  ],
  [
    'a bad GUID',
    (y) => y.replace('72f988bf-86f1-41af-91ab-2d7cd011db47', '72f988bf-86f1-41af'),
    [/tenantId/, /got "72f988bf-86f1-41af"/, /expected a GUID/],
  ],
  [
    'a bad GUID in a target',
    (y) => y.replace('11111111-2222-3333-4444-555555555555', '1111'),
    [/targets\[0\]\.app\.appId/, /got 1111/, /expected a GUID/],
  ],
  [
    'a bad duration',
    (y) => y.replace('rotateBefore: 60d', 'rotateBefore: 60days'),
    [/defaults\.rotateBefore/, /got "60days"/, /expected a duration such as 30s, 10m, 12h or 60d/],
  ],
  [
    'an unknown server kind',
    (y) => y.replace('kind: webhook', 'kind: ftp'),
    [/targets\[0\]\.server\.kind/, /got "ftp"/, /expected .*webhook, command, file, manual/],
  ],
  ['YAML that does not parse', () => 'tenantId: [unclosed\n', [/not valid YAML/, /line \d+/]],
];

const noStackTrace = /\n\s+at |Error: .*\n.*\.(js|ts):\d+/;

describe('broken configuration and arguments', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-usage-'));
    config = join(dir, 'certrotate.yaml');
    await writeFile(config, valid);
    for (const [name, edit] of BROKEN_CONFIGS)
      await writeFile(join(dir, `${name.replace(/ /g, '-')}.yaml`), edit(valid));
    // A run whose snapshot was damaged (a torn write by a tool that did not write atomically, a bad hand edit).
    await mkdir(join(dir, '.certrotate', 'runs', 'r-corrupt'), { recursive: true });
    await writeFile(join(dir, '.certrotate', 'runs', 'r-corrupt', 'snapshot.json'), '{"formatVersion":1,"runId":');
    await mkdir(join(dir, '.certrotate', 'runs', 'r-foreign'), { recursive: true });
    await writeFile(join(dir, '.certrotate', 'runs', 'r-foreign', 'snapshot.json'), '{"formatVersion":7}\n');
    await mkdir(join(dir, '.certrotate', 'runs', 'r-parked'), { recursive: true });
    const envelope = {
      formatVersion: 1,
      machineVersion: 'any',
      runId: 'r-parked',
      target: 'contoso-api',
      updatedAt: '2026-11-28T08:00:00.000Z',
      snapshot: { value: 'awaitingOperator', status: 'active', context: { outcome: 'awaitingOperator' } },
    };
    await writeFile(join(dir, '.certrotate', 'runs', 'r-parked', 'snapshot.json'), JSON.stringify(envelope));
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(BROKEN_CONFIGS)('config with %s: exit 1 naming the field, value and expectation', async (name, _e, says) => {
    const r = await runCli(['--config', join(dir, `${name.replace(/ /g, '-')}.yaml`), 'plan', 'contoso-api']);
    expect(r.code).toBe(1);
    for (const re of says) expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toMatch(noStackTrace);
    expect(r.stdout).toBe('');
  });

  it.each<[string, string[], RegExp[]]>([
    [
      'a missing config file',
      ['--config', '@dir/nope.yaml', 'runs'],
      [/nope\.yaml does not exist/, /expected a certrotate\.yaml/],
    ],
    [
      'an unknown target',
      ['--config', '@config', 'plan', 'nosuch'],
      [/target "nosuch" is not in the configuration/, /expected one of: contoso-api/],
    ],
    [
      'an unknown target to rotate',
      ['--config', '@config', 'rotate', 'nosuch', '--yes'],
      [/target "nosuch"/, /expected one of: contoso-api/],
    ],
    [
      'an unknown option',
      ['--config', '@config', 'rotate', 'contoso-api', '--frobnicate'],
      [/unknown option '--frobnicate'/, /expected one of .*--plan.*--yes/],
    ],
    [
      'an unknown global option',
      ['--config', '@config', '--colour', 'scan'],
      [/unknown option '--colour'/, /expected one of .*--config.*--log-level/],
    ],
    [
      'rotate without --yes when not interactive',
      ['--config', '@config', 'rotate', 'contoso-api'],
      [/rotate changes .* "contoso-api"/, /cannot ask here/, /pass --yes/],
    ],
    [
      'resume without --yes when not interactive',
      ['--config', '@config', 'resume', 'r-parked'],
      [/resume may change .* "contoso-api"/, /cannot ask here/, /pass --yes/],
    ],
    [
      'a bad --log-level',
      ['--config', '@config', '--log-level', 'loud', 'scan'],
      [/option --log-level: got "loud"; expected one of trace, debug, info, warn, error, silent/],
    ],
    [
      'a corrupt snapshot for resume',
      ['--config', '@config', 'resume', 'r-corrupt', '--yes'],
      [/runs\/r-corrupt\/snapshot\.json is not valid JSON/, /cannot be resumed/],
    ],
    [
      'a foreign snapshot for resume',
      ['--config', '@config', 'resume', 'r-foreign', '--yes'],
      [/runs\/r-foreign\/snapshot\.json is not a certrotate run snapshot/, /formatVersion/, /7/, /expected 1/],
    ],
    ['an unknown run', ['--config', '@config', 'resume', 'r-404', '--yes'], [/run "r-404" not found/]],
    [
      'a run id that is no run id',
      ['--config', '@config', 'resume', '../etc', '--yes'],
      [/run id "\.\.\/etc" is not valid/, /expected letters, digits/],
    ],
    [
      'a missing plan file',
      ['--config', '@config', 'rotate', 'contoso-api', '--plan', '@dir/none.json'],
      [/option --plan/, /none\.json/, /ENOENT|does not exist/],
    ],
    [
      'a bad diagram format',
      ['--config', '@config', 'diagram', '--format', 'svg'],
      [/option --format: got "svg"; expected one of mermaid/],
    ],
  ])('%s: exit 1 with a message that says what was expected', async (_name, args, says) => {
    const r = await runCli(args.map((a) => a.replace('@config', config).replace('@dir', dir)));
    expect(r.code).toBe(1);
    for (const re of says) expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toMatch(noStackTrace);
  });

  it('leaves the corrupt snapshot as it found it', async () => {
    expect(await readFile(join(dir, '.certrotate', 'runs', 'r-corrupt', 'snapshot.json'), 'utf8')).toBe(
      '{"formatVersion":1,"runId":',
    );
  });
});
