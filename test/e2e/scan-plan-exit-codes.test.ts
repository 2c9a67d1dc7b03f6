/**
 * Exit codes per status (issue 10, defects 1 and 2): a broken target (its server uses a key the app no longer has) is
 * exit 1 from `scan` and `plan`, with or without --detailed-exitcode, never "pending" (2); due targets are 2 only with
 * --detailed-exitcode; healthy ones 0. A plan made with --force applies without repeating it, and a stale plan says
 * which fact changed and prints the full command to make it again.
 */
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { YAMLMap, YAMLSeq } from 'yaml';
import { certificateExpiringIn } from '../../src/sandbox/world.js';
import {
  cli,
  editConfig,
  parseJson,
  sandboxTarget,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

interface ScanDocument {
  targets: { name: string; status: string; reason?: string; error?: string }[];
}

describe('scan and plan exit codes per status; plans carry their options', () => {
  let sb: Sandbox;
  /** Configs with one keyvault target each: contoso-api (due) and fabrikam-api (ok). */
  let dueOnly: string;
  let okOnly: string;

  beforeAll(async () => {
    sb = await startE2eSandbox();
    const only = (name: string) =>
      editConfig(sb, `${name}.yaml`, (doc) => {
        const targets = doc.get('targets') as YAMLSeq<YAMLMap>;
        targets.items = targets.items.filter((t) => t.get('name') === name);
      });
    dueOnly = await only('contoso-api');
    okOnly = await only('fabrikam-api');
  });
  afterAll(() => sb?.stop());

  it('ok: scan and plan exit 0, with or without --detailed-exitcode', async () => {
    for (const args of [['scan'], ['scan', '--detailed-exitcode'], ['plan', 'fabrikam-api', '--detailed-exitcode']]) {
      const r = await cli(okOnly, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });

  it('due: scan exits 0, and 2 with --detailed-exitcode; so does plan', async () => {
    expect((await cli(dueOnly, ['scan'])).code).toBe(0);
    expect((await cli(dueOnly, ['scan', '--detailed-exitcode'])).code).toBe(2);
    const plan = await cli(dueOnly, ['plan', 'contoso-api', '--detailed-exitcode']);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toMatch(/change\(s\) pending/);
  });

  it('a plan made with --force applies without --force, and the hint carries --config', async () => {
    const file = join(sb.dir, 'forced.plan.json');
    const made = await cli(okOnly, ['plan', 'fabrikam-api', '--force', '--out', file]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain(`apply it with certrotate rotate fabrikam-api --plan ${file} --config ${okOnly}`);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { options: { force: boolean }; fingerprint: string };
    expect(saved.options).toEqual({ force: true });
    const r = await cli(okOnly, ['rotate', 'fabrikam-api', '--plan', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(parseJson<RunDocument>(r).outcome).toBe('succeeded');

    // The audit trail of that run (defect 7): the command line as typed, the mode, the plan and its fingerprint, and
    // the --force the plan carried — not a `rotate X --yes` nobody typed.
    const { runId } = parseJson<RunDocument>(r);
    const journal = (await readFile(join(sb.dir, '.certrotate', 'runs', runId, 'journal.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const started = journal[0]!;
    expect(Object.keys(started).sort()).toEqual(
      [
        'actor',
        'argv',
        'confirmation',
        'detail',
        'event',
        'force',
        'mode',
        'planFile',
        'planFingerprint',
        'runId',
        'step',
        'target',
        'time',
      ].sort(),
    );
    expect(started.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(started.actor).toMatch(/^\S+@\S+$/);
    expect(started).toMatchObject({
      runId,
      target: 'fabrikam-api',
      step: 'run',
      event: 'started',
      detail: `rotate fabrikam-api --plan ${file} --force`,
      mode: 'rotate',
      argv: ['--config', okOnly, 'rotate', 'fabrikam-api', '--plan', file, '--json'],
      confirmation: 'plan',
      planFile: file,
      planFingerprint: saved.fingerprint,
      force: true,
    });
    // Every gate was answered by the plan, none by a --yes that was not given.
    const answers = journal.filter((l) => l.event === 'confirmed' || l.event === 'declined');
    expect(answers.length).toBeGreaterThan(0);
    for (const a of answers) expect(a).toMatchObject({ event: 'confirmed', by: 'plan' });
    expect(journal.at(-1)).toMatchObject({ runId, step: 'succeeded', event: 'succeeded', outcome: 'succeeded' });
  });

  it('an explicit --force against a plan made without it is a conflict, said as one', async () => {
    const file = join(sb.dir, 'unforced.plan.json');
    expect((await cli(okOnly, ['plan', 'fabrikam-api', '--out', file])).code).toBe(0);
    const r = await cli(okOnly, ['rotate', 'fabrikam-api', '--plan', file, '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('option --force: the plan in');
    expect(r.stderr).toContain(`certrotate plan fabrikam-api --force --out ${file} --config ${okOnly}`);
  });

  it('a stale forced plan names the fact that changed and the full command to make it again', async () => {
    const file = join(sb.dir, 'stale.plan.json');
    expect((await cli(dueOnly, ['plan', 'contoso-api', '--force', '--out', file])).code).toBe(0);
    expect((await cli(dueOnly, ['rotate', 'contoso-api', '--yes', '--json'])).code).toBe(0);
    const r = await cli(dueOnly, ['rotate', 'contoso-api', '--plan', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the plan is stale: the app's current key changed from [0-9A-F]{8}… to [0-9A-F]{8}…/);
    expect(r.stderr).toContain(`certrotate plan contoso-api --force --out ${file} --config ${dueOnly}`);
    expect(r.stderr).toContain(`certrotate rotate contoso-api --plan ${file} --config ${dueOnly}`);
  });

  it('next-step commands carry the --config in use: the resume of a parked run and the exit-4 hint', async () => {
    const parked = await cli(sb.configPath, ['rotate', 'contoso-portal', '--yes', '--json']);
    expect(parked.code, parked.stderr).toBe(3);
    const doc = parseJson<RunDocument & { next?: string }>(parked);
    expect(doc.next).toBe(`certrotate resume ${doc.runId} --config ${sb.configPath}`);
    const busy = await cli(sb.configPath, ['rotate', 'contoso-portal', '--yes']);
    expect(busy.code).toBe(4);
    expect(busy.stderr).toContain(`\`certrotate resume ${doc.runId} --config ${sb.configPath}\``);
    expect(busy.stderr).not.toMatch(/interrupted in|\.running/);
  });

  it('scan --environment: a malformed id is a usage error naming the option; an unknown one is "not found"', async () => {
    const bad = await cli(okOnly, ['scan', '--environment', 'not-a-guid']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /option --environment: got "not-a-guid"; expected a Power Platform environment id, a GUID/,
    );
    expect(bad.stdout).toBe('');
    const env = randomUUID();
    const unknown = await cli(okOnly, ['scan', '--environment', env]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`environment not found: ${env}`);
    expect(unknown.stderr).not.toMatch(/[{}]/);
    expect(unknown.stdout).not.toMatch(/No Power Pages sites/);
  });

  it('broken: the server uses a key no longer on the app — scan and plan exit 1, never 2', async () => {
    // An administrator replaces the app's key in the portal: the server's key is no longer registered.
    const app = sb.directory.appByAppId(sandboxTarget(sb, 'fabrikam-api').appId)!;
    const material = await certificateExpiringIn(sb.pool, sb.clock.now(), 'CN=by-hand', 300, 365);
    sb.directory.setKeyCredentials(app, [
      sb.directory.keyCredentialFromCertificate(material.certDer, { keyId: randomUUID(), propagated: true }),
    ]);
    expect((await targetState(sb, 'fabrikam-api')).app.keyCredentials).toHaveLength(1);

    const json = await cli(okOnly, ['scan', '--json', '--detailed-exitcode']);
    expect(json.code, json.stderr).toBe(1);
    const row = parseJson<ScanDocument>(json).targets[0]!;
    expect(row).toMatchObject({ name: 'fabrikam-api', status: 'broken' });
    expect(row.reason!.length).toBeLessThanOrEqual(80);
    expect(row.error).toMatch(/which is not registered on app/);

    const human = await cli(okOnly, ['scan']);
    expect(human.code).toBe(1);
    const cell = human.stdout.split('\n').find((l) => l.startsWith('fabrikam-api'))!;
    expect(cell).toMatch(/broken \(the server's key [0-9A-F]{8}… is not on the app\)$/);
    // The full reason beneath the table.
    expect(human.stdout).toMatch(/^fabrikam-api: the server uses key [0-9A-F]{40}, which is not registered/m);

    const html = join(sb.dir, 'broken.html');
    const report = await cli(okOnly, ['scan', '--html', html]);
    expect(report.code).toBe(1);
    expect(await readFile(html, 'utf8')).toContain('class="status-broken"');

    for (const args of [
      ['plan', 'fabrikam-api'],
      ['plan', 'fabrikam-api', '--detailed-exitcode'],
    ]) {
      const plan = await cli(okOnly, args);
      expect(plan.code, args.join(' ')).toBe(1);
      expect(plan.stdout).toMatch(/Cannot rotate fabrikam-api: the server uses key/);
      expect(plan.stdout).not.toMatch(/pending\./);
    }
  });
  it('blocked: a due site whose app certrotate may not change — scan and plan exit 1, never 2', async () => {
    // Nobody made certrotate's identity an owner of the site's app: it could not remove the old key after Update key.
    const portalOnly = await editConfig(sb, 'portal-only.yaml', (doc) => {
      const targets = doc.get('targets') as YAMLSeq<YAMLMap>;
      targets.items = targets.items.filter((t) => t.get('name') === 'contoso-portal');
    });
    const app = sb.directory.appByAppId(sandboxTarget(sb, 'contoso-portal').appId)!;
    const owners = [...app.owners];
    app.owners.splice(0, app.owners.length);
    try {
      const json = await cli(portalOnly, ['scan', '--json', '--detailed-exitcode']);
      expect(json.code, json.stderr).toBe(1);
      const row = parseJson<ScanDocument>(json).targets[0]!;
      expect(row).toMatchObject({ name: 'contoso-portal', status: 'blocked' });
      expect(row.error).toMatch(/may not change app .* make it an owner of the app/);
      expect((await cli(portalOnly, ['scan'])).code).toBe(1);
      for (const args of [
        ['plan', 'contoso-portal'],
        ['plan', 'contoso-portal', '--detailed-exitcode'],
      ]) {
        const plan = await cli(portalOnly, args);
        expect(plan.code, args.join(' ')).toBe(1);
        expect(plan.stdout).toMatch(/Cannot rotate contoso-portal: certrotate's identity may not change app/);
        expect(plan.stdout).not.toMatch(/pending\./);
      }
    } finally {
      app.owners.push(...owners);
    }
  });
});
