/** A `manual` server target: a person installs the key; certrotate can neither do it nor observe it. */
import { z } from 'zod';
import { AdapterError, type ServerKeyTarget } from '../ports.js';
import { defineServerKind } from './server-kind.js';

/** `server: { kind: manual, instructions? }` (DESIGN §5a). */
export const manualServerSchema = z.strictObject({
  kind: z.literal('manual'),
  /** What the operator must do on the server; shown when the run parks. */
  instructions: z.string().min(1).optional(),
});

type ManualConfig = z.output<typeof manualServerSchema>;

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

/** The `manual` server kind. */
export const manualServer = defineServerKind({
  kind: 'manual',
  schema: manualServerSchema,
  create: (target, server) => createManualTarget(target, server),
});
