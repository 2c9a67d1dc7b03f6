import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, cp, lstat, mkdir, mkdtemp, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSandbox } from '../../src/sandbox/index.js';
import { bash, certrotateShellEnv } from '../helpers/shell.js';

// The shell GitHub-hosted and Azure DevOps Linux agents use for bash steps: errexit and pipefail.
const PIPELINE_SHELL = ['--noprofile', '--norc', '-eo', 'pipefail'];

const dir = fileURLToPath(new URL('../../runbooks/pipelines/', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const execFileAsync = promisify(execFile);

interface GhStep {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  id?: string;
}
interface GhJob {
  needs?: string | string[];
  environment?: string;
  steps: GhStep[];
  strategy?: { matrix?: Record<string, unknown> };
}

/** Runs pipeline scripts against a fresh sandbox, `certrotate` on PATH as `npm install -g` would put it. */
async function withSandbox(fn: (env: NodeJS.ProcessEnv, cwd: string) => Promise<void>): Promise<void> {
  const sandbox = await startSandbox({ propagationDelaySeconds: 1, kvCreateDelaySeconds: 1 });
  try {
    const env = await certrotateShellEnv({ CERTROTATE_CONFIG: sandbox.configPath });
    await fn(env, sandbox.dir);
  } finally {
    await sandbox.stop();
  }
}

describe('GitHub Actions template', () => {
  it('is a scheduled scan → plan → approval-gated rotate with workload identity and no secret', async () => {
    const text = await readFile(join(dir, 'github-actions.yml'), 'utf8');
    const wf = parse(text) as {
      on: { schedule: { cron: string }[] };
      permissions: Record<string, string>;
      jobs: Record<string, GhJob>;
    };
    expect(wf.on.schedule[0]?.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect(wf.permissions['id-token']).toBe('write');
    expect(Object.keys(wf.jobs)).toEqual(['scan', 'plan', 'rotate', 'resume']);
    expect(wf.jobs.plan!.needs).toBe('scan');
    expect(wf.jobs.rotate!.needs).toEqual(['scan', 'plan']);
    expect(wf.jobs.rotate!.environment).toBeTruthy();
    for (const [name, job] of Object.entries(wf.jobs)) {
      const login = job.steps.find((s) => s.uses?.startsWith('azure/login@'));
      expect(login, `job ${name} signs in with azure/login`).toBeDefined();
      expect(Object.keys(login!.with ?? {})).not.toContain('client-secret');
    }
    expect(text).not.toMatch(/secrets\.|clientSecret|client-secret:/);
  });

  it('runs its scan, plan and rotate scripts against the sandbox', async () => {
    const wf = parse(await readFile(join(dir, 'github-actions.yml'), 'utf8')) as { jobs: Record<string, GhJob> };
    const scripts = (job: string) =>
      wf.jobs[job]!.steps.filter((s) => s.run?.includes('certrotate ') && !s.run.includes('npm install')).map(
        (s) => s.run!,
      );
    await withSandbox(async (env, cwd) => {
      const output = join(cwd, 'github-output');
      await writeFile(output, '');
      const ghEnv = { ...env, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: join(cwd, 'summary.md') };
      for (const script of scripts('scan')) {
        const r = await bash(script, ghEnv, cwd, PIPELINE_SHELL);
        expect(r.code, r.output).toBe(0);
      }
      const outputs = Object.fromEntries(
        (await readFile(output, 'utf8'))
          .trim()
          .split('\n')
          .map((l) => l.split('=', 2) as [string, string]),
      );
      expect(outputs.due).toBe('true');
      const targets = JSON.parse(outputs.targets!) as string[];
      expect(targets).toEqual(['contoso-api']);
      for (const job of ['plan', 'rotate']) {
        for (const script of scripts(job)) {
          const r = await bash(script.replaceAll('${{ matrix.target }}', targets[0]!), ghEnv, cwd, PIPELINE_SHELL);
          expect(r.code, r.output).toBe(0);
        }
      }
      const rotation = JSON.parse(await readFile(join(cwd, 'rotation-contoso-api.json'), 'utf8')) as {
        outcome: string;
      };
      expect(rotation.outcome).toBe('succeeded');
      expect(await readFile(join(cwd, 'summary.md'), 'utf8')).toContain('contoso-api');
    });
  });
});

interface AdoStep {
  task?: string;
  name?: string;
  inputs?: Record<string, string>;
}
interface AdoStage {
  stage: string;
  jobs: {
    job?: string;
    deployment?: string;
    environment?: string;
    steps?: AdoStep[];
    strategy?: { runOnce: { deploy: { steps: AdoStep[] } } };
  }[];
}

describe('Azure DevOps template', () => {
  const load = async () =>
    parse(await readFile(join(dir, 'azure-devops.yml'), 'utf8')) as {
      schedules: { cron: string }[];
      stages: AdoStage[];
      variables: Record<string, string>;
    };
  const steps = (stage: AdoStage) => stage.jobs.flatMap((j) => j.steps ?? j.strategy?.runOnce.deploy.steps ?? []);

  it('is a scheduled scan → plan → approval-gated rotate with a workload identity service connection', async () => {
    const p = await load();
    expect(p.schedules[0]?.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect(p.stages.map((s) => s.stage)).toEqual(['Scan', 'Plan', 'Rotate', 'Resume']);
    const rotate = p.stages.find((s) => s.stage === 'Rotate')!;
    expect(rotate.jobs[0]?.deployment).toBeTruthy();
    expect(rotate.jobs[0]?.environment).toBeTruthy();
    for (const stage of p.stages) {
      for (const step of steps(stage).filter((s) => s.task?.startsWith('AzureCLI@'))) {
        expect(step.inputs?.azureSubscription).toBe('$(serviceConnection)');
      }
    }
    expect(await readFile(join(dir, 'azure-devops.yml'), 'utf8')).not.toMatch(
      /clientSecret|client-secret|servicePrincipalKey/,
    );
  });

  it('runs its scan, plan and rotate scripts against the sandbox', async () => {
    const p = await load();
    const scripts = (name: string) =>
      steps(p.stages.find((s) => s.stage === name)!)
        .filter((s) => s.task?.startsWith('AzureCLI@'))
        .map((s) => s.inputs!.inlineScript!);
    await withSandbox(async (env, cwd) => {
      let targets = '';
      for (const script of scripts('Scan')) {
        const r = await bash(script, env, cwd, PIPELINE_SHELL);
        expect(r.code, r.output).toBe(0);
        targets = /##vso\[task\.setvariable variable=targets;isOutput=true\](.*)/.exec(r.output)?.[1]?.trim() ?? '';
        expect(r.output).toContain('##vso[task.setvariable variable=due;isOutput=true]true');
      }
      expect(targets).toBe('contoso-api');
      for (const stage of ['Plan', 'Rotate']) {
        for (const script of scripts(stage)) {
          const r = await bash(
            script.replaceAll('$(targets)', targets).replaceAll('$(Pipeline.Workspace)', cwd),
            env,
            cwd,
            PIPELINE_SHELL,
          );
          expect(r.code, r.output).toBe(0);
        }
      }
      expect(JSON.parse(await readFile(join(cwd, 'rotation-contoso-api.json'), 'utf8'))).toMatchObject({
        outcome: 'succeeded',
      });
    });
  });
});

/**
 * Defect 8 of issue 10: each template installs the tarball it pins, never a registry name. The install step runs as
 * written in a clean directory against `npm pack` of this repository: the digest check, then `npm install --global`
 * into a temporary prefix with an empty npm cache and `--offline` (the runtime dependencies are bundled in the
 * tarball, so nothing may come from a registry), then `certrotate` from that prefix.
 */
describe('install step of each template', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const npm = (cwd: string, args: string[]) =>
    execFileAsync('npm', [...args, '--no-audit', '--no-fund'], { cwd, maxBuffer: 64 * 1024 * 1024 });
  let tarball = '';
  let sha512 = '';

  beforeAll(async () => {
    // `npm pack` bundles the runtime dependencies from node_modules. In a git worktree whose node_modules is a
    // symlink to another checkout's, npm bundles only the top-level ones; there the package is packed from a copy
    // of its files and lockfile with its runtime dependencies installed by `npm ci` from the npm cache (--offline).
    let cwd = repoRoot;
    if ((await lstat(join(repoRoot, 'node_modules'))).isSymbolicLink()) {
      cwd = await mkdtemp(join(tmpdir(), 'certrotate-stage-'));
      const manifest = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { files: string[] };
      for (const entry of ['package.json', 'package-lock.json', 'README.md', ...manifest.files]) {
        await cp(join(repoRoot, entry), join(cwd, entry), { recursive: true });
      }
      // --ignore-scripts: dist/ is built (e2e tests run after `npm run build`); no runtime dependency needs a script.
      await npm(cwd, ['ci', '--omit=dev', '--ignore-scripts', '--offline']);
    }
    const out = await mkdtemp(join(tmpdir(), 'certrotate-pack-'));
    const { stdout } = await npm(cwd, ['pack', '--ignore-scripts', '--json', '--pack-destination', out]);
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    tarball = join(out, packed!.filename);
    sha512 = createHash('sha512')
      .update(await readFile(tarball))
      .digest('hex');
  }, 240_000);

  /** The install steps of a template, its pinned path and digest variables, and the text of the whole file. */
  async function template(file: string) {
    const text = await readFile(join(dir, file), 'utf8');
    const doc = parse(text) as Record<string, unknown>;
    const installs: string[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(visit);
      if (!v || typeof v !== 'object') return;
      const step = v as { name?: string; displayName?: string; run?: string; script?: string };
      if (step.name === 'Install certrotate' || step.displayName === 'Install certrotate') {
        installs.push(step.run ?? step.script ?? '');
      }
      Object.values(v).forEach(visit);
    };
    visit(doc);
    const vars = (doc.env ?? doc.variables) as Record<string, string>;
    return { text, installs, tarballPath: vars.CERTROTATE_TARBALL!, vars };
  }

  /** Runs `script` as the agent would (cwd: the checkout holding the tarball), npm confined to temp dirs. */
  async function runInstall(script: string, tarballPath: string, digest: string, flags: string[]) {
    const work = await mkdtemp(join(tmpdir(), 'certrotate-agent-'));
    const prefix = await mkdtemp(join(tmpdir(), 'certrotate-prefix-'));
    const cache = await mkdtemp(join(tmpdir(), 'certrotate-npm-cache-'));
    await mkdir(dirname(join(work, tarballPath)), { recursive: true });
    await copyFile(tarball, join(work, tarballPath));
    const env = {
      ...process.env,
      CI: 'true',
      CERTROTATE_TARBALL: tarballPath,
      CERTROTATE_SHA512: digest,
      npm_config_prefix: prefix,
      npm_config_cache: cache,
      npm_config_userconfig: join(work, 'no-npmrc'),
      // The agent's Node (setup-node / NodeTool) first, then the installed bin, as on a hosted agent.
      PATH: `${dirname(process.execPath)}:${join(prefix, 'bin')}:${process.env.PATH ?? ''}`,
    };
    const r = await bash(script, env, work, flags);
    return { ...r, env, work, prefix };
  }

  for (const [file, flags] of [
    ['github-actions.yml', PIPELINE_SHELL],
    // Azure DevOps runs a `script:` with plain bash: no errexit unless the script sets it.
    ['azure-devops.yml', ['--noprofile', '--norc']],
  ] as const) {
    it(`${file}: every job installs the pinned tarball after checking its SHA-512, never a registry name`, async () => {
      const t = await template(file);
      expect(t.installs.length).toBe(4);
      expect(new Set(t.installs).size, 'every job installs the same way').toBe(1);
      expect(t.installs[0]).toMatch(/sha512sum --check --strict/);
      expect(t.installs[0]).toMatch(/npm install --global --offline --ignore-scripts .*"\.\/\$CERTROTATE_TARBALL"/);
      expect(t.tarballPath).toMatch(/^[\w./-]+\.tgz$/);
      expect(t.text).not.toMatch(/npm (install|i)( -g| --global)+ certrotate/);
      expect(t.text).not.toMatch(/npx certrotate/);
    });

    it(`${file}: its install step refuses a tarball whose digest is not the pinned one, installing nothing`, async () => {
      const t = await template(file);
      const other = createHash('sha512').update('another tarball').digest('hex');
      for (const digest of [other, t.vars.CERTROTATE_SHA512!]) {
        const r = await runInstall(t.installs[0]!, t.tarballPath, digest, [...flags]);
        expect(r.code, r.output).not.toBe(0);
        expect(r.output).toMatch(/sha512sum/);
        await expect(stat(join(r.prefix, 'bin', 'certrotate'))).rejects.toThrow(/ENOENT/);
      }
    });
  }

  it('the install step both templates share installs a packed tarball with no network, and certrotate runs', async () => {
    const [gh, ado] = await Promise.all([template('github-actions.yml'), template('azure-devops.yml')]);
    expect(ado.installs[0]).toBe(gh.installs[0]);
    expect(ado.tarballPath).toBe(gh.tarballPath);
    // Plain bash, as Azure DevOps runs it: the script's own `set -eu` must stop it at the first failure.
    const r = await runInstall(gh.installs[0]!, gh.tarballPath, sha512, ['--noprofile', '--norc']);
    expect(r.code, r.output).toBe(0);
    const version = await bash('certrotate --version', r.env, r.work);
    expect(version.output.trim()).toBe(pkg.version);
    expect(await realpath(join(r.prefix, 'bin', 'certrotate'))).toContain(await realpath(r.prefix));
    // A command that loads the program and its bundled dependencies (commander, xstate), not only the launcher.
    const diagram = await bash('certrotate diagram', r.env, r.work);
    expect(diagram.code, diagram.output).toBe(0);
    expect(diagram.output).toMatch(/^stateDiagram-v2/);
  }, 300_000);
});
