import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSandbox } from '../../src/sandbox/index.js';
import { bash, certrotateShellEnv } from '../helpers/shell.js';

// The shell GitHub-hosted and Azure DevOps Linux agents use for bash steps: errexit and pipefail.
const PIPELINE_SHELL = ['--noprofile', '--norc', '-eo', 'pipefail'];

const dir = fileURLToPath(new URL('../../runbooks/pipelines/', import.meta.url));

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
