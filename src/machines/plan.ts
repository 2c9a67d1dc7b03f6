/**
 * The plan (DESIGN §5 `plan`): a pure function from what preflight observed to the steps a rotation would take,
 * terraform/what-if style, plus a canonical serialisation of the observation. The fingerprint (sha256 of that
 * serialisation) is computed outside this pure folder (src/runs/plan-fingerprint.ts), so `rotate --plan` can refuse
 * a plan whose observed state has moved on.
 */
import { preflightVerdict, type PreflightReason } from './preflight.js';
import { rotationDue, selectCurrentKey } from './rotation-policies.js';
import type { RotationInput, TargetKind, TargetObservation } from './rotation-types.js';
import { stepFacts, type PlanLineFacts, type StepName } from './steps.js';

export type PlanAction = 'create' | 'modify' | 'delete' | 'noChange' | 'manual';

export interface PlanStep {
  name: string;
  action: PlanAction;
  summary: string;
  before: unknown;
  after: unknown;
}

/** The options the plan was made with that change what it plans; `rotate --plan` applies them as saved. */
export interface PlanMadeWith {
  /** `plan --force`: rotate even though the key is not due. */
  force: boolean;
}

/** The plan document (`formatVersion: 1`). */
export interface RotationPlan {
  formatVersion: 1;
  target: string;
  kind: TargetKind;
  fingerprint: string;
  steps: PlanStep[];
  /** The options that shaped the plan (absent in plans saved before they were recorded: no option then). */
  options?: PlanMadeWith;
  /**
   * The facts the fingerprint is taken of (thumbprints, key ids, dates, the target's settings; nothing secret), so a
   * stale plan can say what changed. Absent in plans saved before they were recorded.
   */
  facts?: Record<string, unknown>;
  /** Set when the rotation would stop at preflight: the target is broken or blocked (exit 1), not "pending". */
  refused?: { reason: PreflightReason; message: string };
}

/** A plan before its fingerprint is attached, and the canonical text the fingerprint is taken of. */
export interface PlanDraft {
  plan: Omit<RotationPlan, 'fingerprint'>;
  canonical: string;
}

const DAY = 86_400_000;

/** JSON with object keys sorted at every level and no whitespace: equal facts give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The facts a plan depends on, canonically: the app's credentials, the vault's versions, a pending create, the
 * server's key, the target settings that shape the steps, and whether the key is due. Not the clock itself: a plan
 * stays valid while time passes, until one of these facts changes (including "became due").
 */
export function canonicalObservation(observation: TargetObservation, settings: RotationInput): string {
  return canonicalJson(planFacts(observation, settings));
}

/** The facts of {@link canonicalObservation} as an object (what the plan file saves beside its fingerprint). */
export function planFacts(observation: TargetObservation, settings: RotationInput): Record<string, unknown> {
  const selection = selectCurrentKey(observation, settings);
  const due = selection.ok ? rotationDue(selection.key, observation.now, settings) : null;
  const byKey = <T>(items: T[], key: (t: T) => string) => [...items].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  // Round-tripped through canonical JSON so the saved object and a fresh one compare field by field.
  return JSON.parse(
    canonicalJson({
      target: settings.target,
      kind: settings.kind,
      appId: settings.appId,
      keyVault: settings.keyVault,
      site: settings.site,
      retireAfterMs: settings.retireAfterMs,
      app: {
        objectId: observation.app.objectId,
        federated: observation.app.hasFederatedCredentials,
        keyCredentials: byKey(observation.app.keyCredentials, (k) => k.keyId).map((k) => ({
          keyId: k.keyId,
          thumbprint: k.thumbprint.toUpperCase(),
          start: k.startDateTime,
          end: k.endDateTime,
          type: k.type,
          usage: k.usage,
        })),
      },
      versions: byKey(observation.versions, (v) => v.version).map((v) => ({
        version: v.version,
        thumbprint: v.thumbprint.toUpperCase(),
        enabled: v.enabled,
        expiresOn: v.expiresOn,
      })),
      pending: observation.pending ? { runId: observation.pending.runId ?? null } : null,
      server: { manual: observation.server.manual, thumbprint: observation.server.thumbprint?.toUpperCase() ?? null },
      ...(observation.ownership ? { canWrite: observation.ownership.canWrite } : {}),
      currentKey: selection.ok ? selection.key.thumbprint : null,
      force: settings.force === true,
      due,
    }),
  ) as Record<string, unknown>;
}

/** A thumbprint as its first 8 hex digits; any other value as JSON. */
const short = (v: unknown) =>
  typeof v === 'string' && /^[0-9A-F]{40}$/.test(v) ? `${v.slice(0, 8)}…` : canonicalJson(v);
/** An id in a list: a thumbprint shortened, anything else as it is. */
const shortId = (v: string) => (/^[0-9A-F]{40}$/.test(v) ? `${v.slice(0, 8)}…` : v);

/** What changed between the facts a plan was made from and the facts now, one clause each, in words. */
export function factChanges(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const out: string[] = [];
  const get = (o: unknown, path: string[]) =>
    path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
  const changed = (path: string[]) => canonicalJson(get(before, path)) !== canonicalJson(get(after, path));
  const fromTo = (path: string[]) => `from ${short(get(before, path) ?? null)} to ${short(get(after, path) ?? null)}`;
  const named: [string[], string][] = [
    [['currentKey'], "the app's current key changed"],
    [['server', 'thumbprint'], "the server's key changed"],
    [['due'], 'whether the key is due changed'],
    [['force'], 'the --force option changed'],
    [['canWrite'], "whether certrotate's identity may change the app changed"],
  ];
  for (const [path, words] of named) if (changed(path)) out.push(`${words} ${fromTo(path)}`);
  const listed = (path: string[], what: string, id: (e: Record<string, unknown>) => string) => {
    if (!changed(path)) return;
    const ids = (o: unknown) => ((get(o, path) as Record<string, unknown>[] | undefined) ?? []).map(id);
    const [was, now] = [ids(before), ids(after)];
    const added = now.filter((x) => !was.includes(x));
    const removed = was.filter((x) => !now.includes(x));
    const parts = [
      ...(added.length ? [`added ${added.map(shortId).join(', ')}`] : []),
      ...(removed.length ? [`removed ${removed.map(shortId).join(', ')}`] : []),
    ];
    out.push(`${what} changed${parts.length ? ` (${parts.join('; ')})` : ' (same keys, other dates or flags)'}`);
  };
  listed(['app', 'keyCredentials'], "the app's key credentials", (e) => String(e.thumbprint));
  listed(['versions'], "the vault certificate's versions", (e) => String(e.version));
  const covered = new Set(['currentKey', 'server', 'due', 'force', 'canWrite', 'app', 'versions']);
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!covered.has(key) && changed([key])) out.push(`${key} changed ${fromTo([key])}`);
  }
  if (changed(['server']) && !changed(['server', 'thumbprint'])) out.push(`server changed ${fromTo(['server'])}`);
  if (changed(['app']) && !changed(['app', 'keyCredentials'])) out.push(`app changed ${fromTo(['app'])}`);
  return out;
}

function daysLeft(expiresOn: string, now: number): number {
  return Math.floor((Date.parse(expiresOn) - now) / DAY);
}

/** A step's plan line as the step catalogue words it. */
function summaryOf(step: StepName, facts: PlanLineFacts): string {
  return stepFacts(step).planSummary?.(facts) ?? step;
}

/** The plan for one target from what was observed. Pure; sends nothing anywhere (I6). */
export function planRotation(observation: TargetObservation, settings: RotationInput): PlanDraft {
  const facts = planFacts(observation, settings);
  const canonical = canonicalJson(facts);
  const options: PlanMadeWith = { force: settings.force === true };
  const plan = (steps: PlanStep[], refused?: RotationPlan['refused']): PlanDraft => ({
    plan: {
      formatVersion: 1,
      target: settings.target,
      kind: settings.kind,
      steps,
      options,
      facts,
      ...(refused ? { refused } : {}),
    },
    canonical,
  });
  const now = observation.now;
  // The preflight verdict decides, as it does for the machine: a plan that is not a rotation is one line.
  const decision = preflightVerdict(observation, settings);
  switch (decision.reason) {
    case 'UsesPlatformIdentity':
      return plan([{ name: 'rotate', action: 'noChange', summary: decision.message, before: null, after: null }]);
    case 'NoUsableCurrentKey':
    case 'CannotRetireOldKey':
      // The rotation would stop at preflight (power-pages: before anyone presses Update key): say so rather than
      // list the steps.
      return plan(
        [
          {
            name: 'rotate',
            action: 'manual',
            summary: `cannot rotate: ${decision.message}`,
            before: null,
            after: null,
          },
        ],
        { reason: decision.reason, message: decision.message },
      );
    case 'RotationNotDue': {
      const { thumbprint, expiresOn } = decision.key;
      return plan([
        {
          name: 'rotate',
          action: 'noChange',
          summary: decision.message,
          before: { thumbprint, expiresOn },
          after: { thumbprint, expiresOn },
        },
      ]);
    }
    case 'RotationDue':
      break;
  }
  const current = decision.key;
  const left = daysLeft(current.expiresOn, now);

  const oldKey = { keyId: current.keyId, thumbprint: current.thumbprint, expiresOn: current.expiresOn };
  const keysBefore = observation.app.keyCredentials.map((k) => k.thumbprint.toUpperCase());
  const lines: PlanLineFacts = { settings, observation, current };
  const retire: PlanStep = {
    name: 'retireOldKey',
    action: 'delete',
    summary: summaryOf('retireOldKey', lines),
    before: oldKey,
    after: null,
  };

  if (settings.kind === 'power-pages') {
    return plan([
      {
        name: 'updateKey',
        action: 'manual',
        summary: `an admin presses Update key for the site in the Power Platform admin center (${left} days left)`,
        before: { thumbprint: current.thumbprint },
        after: { thumbprint: '(platform key)' },
      },
      {
        name: 'detectPlatformKey',
        action: 'noChange',
        summary: summaryOf('detectPlatformKey', lines),
        before: { keyCredentials: keysBefore },
        after: { keyCredentials: [...keysBefore, '(platform key)'] },
      },
      {
        name: 'verifyNewKey',
        action: 'noChange',
        summary: summaryOf('verifyNewKey', lines),
        before: observation.site ?? null,
        after: { healthy: true },
      },
      retire,
    ]);
  }

  const keyVault = settings.keyVault;
  const serverManual = observation.server.manual;
  const steps: PlanStep[] = [
    {
      name: 'generateCertificate',
      action: 'create',
      summary: summaryOf('generateCertificate', lines),
      before: { version: current.version ?? null, thumbprint: current.thumbprint },
      after: { version: '(new)', tags: { 'certrotate-run': '(run id)' } },
    },
    {
      name: 'attachKeyCredential',
      action: 'create',
      summary: summaryOf('attachKeyCredential', lines),
      before: { keyCredentials: keysBefore },
      after: { keyCredentials: [...keysBefore, '(new)'] },
    },
    {
      name: 'awaitPropagation',
      action: 'noChange',
      summary: summaryOf('awaitPropagation', lines),
      before: null,
      after: null,
    },
    {
      name: 'installServerKey',
      action: serverManual ? 'manual' : 'modify',
      summary: summaryOf('installServerKey', lines),
      before: { thumbprint: observation.server.thumbprint?.toUpperCase() ?? current.thumbprint },
      after: { thumbprint: '(new)' },
    },
    {
      name: 'verifyNewKey',
      action: 'noChange',
      summary: summaryOf('verifyNewKey', lines),
      before: null,
      after: null,
    },
    // The run disables the old Key Vault version inside retireOldKey, so the plan says it there: a plan lists the
    // steps a run shows, no step of its own.
    current.version
      ? {
          ...retire,
          summary:
            `${retire.summary}, then disable its Key Vault version ${current.version} of ` +
            `${keyVault?.certificate ?? '?'} (kept for audit)`,
          before: { ...oldKey, version: current.version, enabled: true },
          after: { version: current.version, enabled: false },
        }
      : retire,
  ];
  return plan(steps);
}
