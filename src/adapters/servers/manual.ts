/** A `manual` server target: a person installs the key; certrotate can neither do it nor observe it. */
import type { KeyVaultTargetConfig } from '../../config/schema.js';
import { AdapterError, type ServerKeyTarget } from '../ports.js';

type ManualConfig = Extract<KeyVaultTargetConfig['server'], { kind: 'manual' }>;

/** A `manual` {@link ServerKeyTarget}: `install`/`restore` throw `invalidRequest`; the run parks for the operator. */
export function createManualTarget(target: string, server: ManualConfig): ServerKeyTarget {
  const refuse = (what: string) => async () => {
    throw new AdapterError({
      code: 'invalidRequest',
      message: `server ${target} is manual: certrotate cannot ${what} its key.${server.instructions ? ` ${server.instructions}` : ''}`,
      retryable: false,
    });
  };
  return {
    manual: true,
    currentKey: async () => ({}),
    install: refuse('install'),
    restore: refuse('restore'),
  };
}
