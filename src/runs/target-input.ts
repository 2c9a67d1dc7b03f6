import type { Config, TargetConfig } from '../config/schema.js';
import type { RotationInput } from '../machines/rotation-types.js';
import { UsageError } from '../errors.js';

/** Finds a target by name, or says which names exist. */
export function findTarget(config: Config, name: string): TargetConfig {
  const target = config.targets.find((t) => t.name === name);
  if (!target) {
    const names = config.targets.map((t) => t.name);
    throw new UsageError(
      `target "${name}" is not in the configuration; expected one of: ${names.length ? names.join(', ') : '(no targets configured)'}`,
    );
  }
  return target;
}

/**
 * The machine input for a run of `target`: the target's settings with the config's defaults applied. Only ids,
 * names, URLs and durations — the input is persisted with every snapshot, so how this invocation confirms (`--yes`
 * or guided) is not in it: that belongs to each invocation (the driver's `confirm`).
 */
export function rotationInputFor(
  config: Config,
  target: TargetConfig,
  run: { runId: string; force?: boolean },
): RotationInput {
  const base = {
    runId: run.runId,
    target: target.name,
    appId: target.app.appId,
    rotateBeforeMs: target.rotateBefore ?? config.defaults.rotateBefore,
    verifyTimeoutMs: target.verifyTimeout ?? config.defaults.verifyTimeout,
    retireAfterMs: target.retireAfter ?? config.defaults.retireAfter,
    ...(run.force ? { force: true } : {}),
  };
  if (target.kind === 'keyvault') {
    return {
      ...base,
      kind: 'keyvault',
      keyVault: {
        certificate: target.keyVault.certificate,
        policy: {
          subject: target.keyVault.subject,
          validityMonths: target.keyVault.validityMonths,
          keyType: target.keyVault.keyType,
          keySize: target.keyVault.keySize,
          contentType: 'application/x-pem-file',
        },
      },
      dataverseUrl: target.verify.dataverseUrl,
    };
  }
  return {
    ...base,
    kind: 'power-pages',
    site: { environmentId: target.environmentId, websiteId: target.websiteId },
    resumeTimeoutMs: target.resumeTimeout,
  };
}
