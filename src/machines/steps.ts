/**
 * The step catalogue: for every step of a rotation, the facts that used to be spread over the machine, the driver,
 * the guided screen and the plan — the state it runs in, the actors that do its work (journaled under the step's
 * name), its title and what its spinner waits for, the question asked before it (gated steps only) with the summary of
 * what it will do, and its line in the plan. One entry per step; everything that names or describes a step reads it.
 *
 * Pure text and lookups: no I/O, no clock (times come in with the context or the observation).
 */
import type { CertificatePolicySpec } from '../adapters/ports.js';
import { retirementDiff, updateKeyInstructions } from './park-messages.js';
import type { CurrentKey, RotationContext, RotationInput, TargetObservation } from './rotation-types.js';

/** Names of the steps, as they appear in `steps[]` and the journal. */
export type StepName =
  | 'observeTarget'
  | 'generateCertificate'
  | 'attachKeyCredential'
  | 'awaitPropagation'
  | 'installServerKey'
  | 'detectPlatformKey'
  | 'verifyNewKey'
  | 'retireOldKey'
  | 'rollBackRotation'
  | 'withdrawAdditions';

/** The machine's step actors (every invoked actor but the `sleepUntil` waits). */
export type StepActor = StepName | 'awaitCertificate';

/** The top-level states a step runs in. */
export type StepState =
  | 'preflight'
  | 'generating'
  | 'attaching'
  | 'installing'
  | 'detectingPlatformKey'
  | 'verifying'
  | 'retiring'
  | 'rollingBack'
  | 'withdrawing';

/** What a plan line reads: the target's settings, what preflight observed, and the key in service. */
export interface PlanLineFacts {
  settings: RotationInput;
  observation: TargetObservation;
  current: CurrentKey;
}

/** Everything known about one step. */
export interface StepFacts {
  name: StepName;
  /** The top-level state the step runs in. */
  state: StepState;
  /** The actors that do the step's work; the journal and progress name them all by {@link StepFacts.name}. */
  actors: readonly StepActor[];
  /** The step as an operator reads it. */
  title: string;
  /** What the step's spinner says it waits for. */
  waitingFor: string;
  /** Gated steps: the question asked in `<state>.confirming`, and the one-line summary of what the step will do. */
  confirm?: { question: string; summary: (context: RotationContext) => string };
  /** The step's line in the plan (DESIGN §5 `plan`), when the plan lists it. */
  planSummary?: (facts: PlanLineFacts) => string;
}

const DAY = 86_400_000;

/** A duration the way the plan writes it: `60d`, `12h`, `10m`, `30s`. */
export function describeDuration(ms: number): string {
  if (ms % DAY === 0) return `${ms / DAY}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

function describePolicy(policy: CertificatePolicySpec | undefined): string {
  return policy
    ? ` (${policy.subject}, ${policy.keyType} ${policy.keySize}, ${policy.validityMonths} months, PEM)`
    : '';
}

function pendingNote(observation: TargetObservation): string {
  if (!observation.pending) return '';
  return observation.pending.runId
    ? ` (a create started by run ${observation.pending.runId} is pending)`
    : ' (a create is pending and will be adopted)';
}

function oldThumbprintOf(context: RotationContext): string {
  return context.current?.thumbprint ?? 'unknown';
}

function newThumbprintOf(context: RotationContext): string {
  return context.newKey?.thumbprint ?? 'the new key';
}

/** The catalogue, in the order a keyvault rotation runs its steps. */
export const STEPS: { readonly [S in StepName]: StepFacts & { name: S } } = {
  observeTarget: {
    name: 'observeTarget',
    state: 'preflight',
    actors: ['observeTarget'],
    title: 'Read the app, the vault and the server',
    waitingFor: 'Graph, Key Vault and the server',
  },
  generateCertificate: {
    name: 'generateCertificate',
    state: 'generating',
    // awaitCertificate polls the create this step requested: it is the step's second half, not a step of its own.
    actors: ['generateCertificate', 'awaitCertificate'],
    title: 'Generate the new certificate',
    waitingFor: 'Key Vault to issue the new certificate version',
    confirm: {
      question: 'Generate a new certificate?',
      summary: (c) => `create a new version of Key Vault certificate ${c.settings.keyVault?.certificate ?? '?'}`,
    },
    planSummary: ({ settings, observation }) =>
      `new version of Key Vault certificate ${settings.keyVault?.certificate ?? '?'}` +
      describePolicy(settings.keyVault?.policy) +
      pendingNote(observation),
  },
  attachKeyCredential: {
    name: 'attachKeyCredential',
    state: 'attaching',
    actors: ['attachKeyCredential'],
    title: 'Attach the new key to the app',
    waitingFor: 'Microsoft Graph to add the key',
    confirm: {
      question: 'Attach the new key to the app registration?',
      summary: (c) => `add key ${newThumbprintOf(c)} to app ${c.settings.appId} (key ${oldThumbprintOf(c)} stays)`,
    },
    planSummary: ({ settings, observation, current }) => {
      // addKey needs a proof signed by a valid key whose private key the vault holds; otherwise the step PATCHes.
      const canSign = current.secretId !== undefined && Date.parse(current.expiresOn) > observation.now;
      return (
        `add the new key to app ${settings.appId} ` +
        (canSign
          ? `with addKey, the proof signed by key ${current.thumbprint}`
          : 'with PATCH keyCredentials (merge; no current key in the vault can sign a proof)') +
        `; key ${current.thumbprint} stays`
      );
    },
  },
  awaitPropagation: {
    name: 'awaitPropagation',
    // The second half of `attaching`, behind the same gate as attachKeyCredential.
    state: 'attaching',
    actors: ['awaitPropagation'],
    title: 'Wait for Entra ID to accept the new key',
    waitingFor: 'Entra ID to propagate the new key (a token signed with it)',
    planSummary: ({ settings }) => {
      const scope = settings.dataverseUrl ? `${new URL(settings.dataverseUrl).origin}/.default` : 'Microsoft Graph';
      return (
        `acquire a token with the new key for ${scope} until Entra accepts it ` +
        `(up to ${describeDuration(settings.verifyTimeoutMs)})`
      );
    },
  },
  installServerKey: {
    name: 'installServerKey',
    state: 'installing',
    actors: ['installServerKey'],
    title: 'Install the new key on the server',
    waitingFor: 'the server to take the new key',
    confirm: {
      question: 'Install the new key on the server?',
      summary: (c) =>
        `install key ${newThumbprintOf(c)} on the server of ${c.settings.target} (was ${oldThumbprintOf(c)})`,
    },
    planSummary: ({ settings, observation }) =>
      observation.server.manual
        ? `an operator installs the new key on the server of ${settings.target} (the run parks until resumed)`
        : `install the new key on the server of ${settings.target} by its Key Vault secret id`,
  },
  detectPlatformKey: {
    name: 'detectPlatformKey',
    state: 'detectingPlatformKey',
    actors: ['detectPlatformKey'],
    title: "Detect the platform's new key",
    waitingFor: "the platform's new key credential on the app (Update key in the admin center)",
    confirm: {
      question: 'Update the site’s key in the admin center, then wait here?',
      summary: (c) => `${updateKeyInstructions(c)} Wait here until the new key appears and the site is healthy again?`,
    },
    planSummary: ({ settings }) => `read app ${settings.appId} until the platform's new key credential appears`,
  },
  verifyNewKey: {
    name: 'verifyNewKey',
    state: 'verifying',
    actors: ['verifyNewKey'],
    title: 'Verify the new key',
    waitingFor: 'a token with the new key, Dataverse WhoAmI and the server’s health',
    planSummary: ({ settings }) =>
      settings.kind === 'power-pages'
        ? 'wait until the site answers healthy on the new key'
        : `token with the new key` +
          (settings.dataverseUrl ? `, Dataverse WhoAmI at ${settings.dataverseUrl}` : '') +
          ', the server reports the new key and is healthy',
  },
  retireOldKey: {
    name: 'retireOldKey',
    state: 'retiring',
    actors: ['retireOldKey'],
    title: 'Retire the old key',
    waitingFor: 'Graph to remove the old key and Key Vault to disable its version',
    confirm: {
      question: 'Retire the old key?',
      summary: (c) =>
        c.settings.kind === 'power-pages'
          ? retirementDiff(c)
          : `remove old key ${oldThumbprintOf(c)} from app ${c.settings.appId} and disable its Key Vault version`,
    },
    planSummary: ({ settings, current }) => {
      const how =
        settings.kind === 'power-pages'
          ? 'by PATCH keyCredentials (after a diff and a confirmation)'
          : 'with removeKey, the proof signed by the new key';
      return (
        `remove old key ${current.thumbprint} from app ${settings.appId} ${how}` +
        (settings.retireAfterMs > 0 ? ` after a grace period of ${describeDuration(settings.retireAfterMs)}` : '') +
        ', once the new key is verified'
      );
    },
  },
  rollBackRotation: {
    name: 'rollBackRotation',
    state: 'rollingBack',
    actors: ['rollBackRotation'],
    title: 'Roll back',
    waitingFor: 'the old key back on the server and the new one off the app',
    confirm: {
      question: 'Roll back this run?',
      summary: (c) =>
        `put key ${oldThumbprintOf(c)} back on the server, remove ${newThumbprintOf(c)} from app ${c.settings.appId}, ` +
        'disable the new version',
    },
  },
  withdrawAdditions: {
    name: 'withdrawAdditions',
    state: 'withdrawing',
    actors: ['withdrawAdditions'],
    title: "Withdraw this run's unused additions",
    waitingFor: "Graph to remove this run's key and Key Vault to disable its version",
  },
};

/** Every step name, in catalogue order. */
export const STEP_NAMES = Object.keys(STEPS) as StepName[];

/** True when `name` is a step certrotate knows (journal lines also name runs and final states). */
export function isStepName(name: string): name is StepName {
  return Object.hasOwn(STEPS, name);
}

/** The facts of one step. */
export function stepFacts<S extends StepName>(step: S): StepFacts & { name: S } {
  return STEPS[step];
}

/** The step an actor does the work of (`awaitCertificate` → `generateCertificate`); undefined for `sleepUntil` etc. */
export function stepOfActor(actor: StepActor): StepName;
export function stepOfActor(actor: string): StepName | undefined;
export function stepOfActor(actor: string): StepName | undefined {
  return STEP_NAMES.find((name) => (STEPS[name].actors as readonly string[]).includes(actor));
}

/** The gated step whose `confirming` gate sits in the top-level `state` (`attaching` → `attachKeyCredential`). */
export function gatedStepOf(state: string): StepFacts | undefined {
  return STEP_NAMES.map((name) => STEPS[name]).find((facts) => facts.state === state && facts.confirm !== undefined);
}

/** The question asked before the step gated in `state`, or undefined when `state` has no gate. */
export function confirmQuestionFor(state: string): string | undefined {
  return gatedStepOf(state)?.confirm?.question;
}

/**
 * A one-line summary of what the step gated in `state` will do, for the guided-mode prompt (the state name itself
 * when `state` has no gate).
 */
export function confirmSummary(context: RotationContext, state: string): string {
  return gatedStepOf(state)?.confirm?.summary(context) ?? state;
}

/** What a step's sub-state was doing, in words (`installing.running` → "while it ran"). */
const PHASE_WORDS: Readonly<Record<string, string>> = {
  confirming: 'waiting for its confirmation',
  running: 'while it ran',
  requesting: 'while it ran',
  polling: 'waiting for Key Vault to issue the certificate',
  propagating: 'waiting for Entra ID to accept the new key',
  waiting: 'waiting to look again',
  backingOff: 'waiting to try again',
};

/**
 * A run's stored state in words from the step catalogue, for messages a person reads:
 * `installing.running` → `step “Install the new key on the server” (installServerKey), while it ran`. A state that is
 * no step's (a park, a final state) is returned as it is.
 */
export function stateInWords(state: string): string {
  const [top, phase] = state.split('.');
  const step =
    top === 'attaching' && phase === 'propagating'
      ? STEPS.awaitPropagation
      : STEP_NAMES.map((name) => STEPS[name]).find((facts) => facts.state === top);
  if (!step) return state;
  const words = phase === undefined ? undefined : PHASE_WORDS[phase];
  return `step “${step.title}” (${step.name})${words ? `, ${words}` : ''}`;
}
