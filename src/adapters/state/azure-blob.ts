/**
 * The `azure-blob` state backend: runs, journals, plans and per-target locks in one storage container that every
 * pipeline agent and operator shares (`state: { kind: azure-blob, accountUrl, container, prefix? }`), signed in with
 * certrotate's own credential. The SDK loads on the first call, so commands that never touch state stay fast.
 */
import { z } from 'zod';
import { httpsUrl } from '../../config/fields.js';
import type {
  ForcedRelease,
  JournalEntry,
  LockAcquisition,
  LockHolder,
  RunEnvelope,
  RunStore,
  RunSummary,
  TargetLock,
} from '../ports.js';
import type { BlobBackendParts } from './azure-blob-open.js';
import { defineStateKind, type StateOpenContext } from './state-kind.js';

/** `state: { kind: azure-blob, accountUrl, container, prefix? }`. */
export const azureBlobStateSchema = z.strictObject({
  kind: z.literal('azure-blob'),
  /** The storage account's blob endpoint, `https://ACCOUNT.blob.core.windows.net` (or an emulator's URL). */
  accountUrl: httpsUrl,
  /** The container (it must exist; certrotate never creates or deletes containers). */
  container: z.string().regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, {
    error: 'expected a container name: 3-63 lowercase letters, digits and single hyphens',
  }),
  /** Names inside the container start with this (several fleets may share a container). */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._/-]*$/, { error: "expected a blob name prefix of letters, digits, '.', '_', '-' and '/'" })
    .default(''),
});

/** A validated `azure-blob` state section. */
export type AzureBlobStateConfig = z.output<typeof azureBlobStateSchema>;

/** Where an `azure-blob` state lives, as a person would look for it. */
export function blobLocation(state: AzureBlobStateConfig): string {
  return `${state.accountUrl.replace(/\/+$/, '')}/${state.container}${state.prefix ? `/${state.prefix.replace(/^\/+/, '')}` : ''}`;
}

/**
 * The backend, opened on first use: `parts()` imports the SDK and builds the container client once; every method
 * of the store and lock below forwards to the real one.
 */
function lazyBackend(state: AzureBlobStateConfig, config: NonNullable<StateOpenContext['config']>) {
  let opening: Promise<BlobBackendParts> | undefined;
  const parts = () => (opening ??= import('./azure-blob-open.js').then((m) => m.openBlobBackend(state, config)));
  const store: RunStore = {
    saveSnapshot: async (e: RunEnvelope) => (await parts()).store.saveSnapshot(e),
    loadSnapshot: async (id: string) => (await parts()).store.loadSnapshot(id),
    appendJournal: async (e: JournalEntry) => (await parts()).store.appendJournal(e),
    readJournal: async (id: string) => (await parts()).store.readJournal(id),
    savePlan: async (id: string, plan: unknown) => (await parts()).store.savePlan(id, plan),
    listRuns: async (): Promise<RunSummary[]> => (await parts()).store.listRuns(),
    readRecord: async (name: string) => (await parts()).store.readRecord(name),
    writeRecord: async (name: string, value: unknown) => (await parts()).store.writeRecord(name, value),
    flush: async () => (opening ? (await opening).store.flush() : undefined),
  };
  const lock: TargetLock = {
    acquire: async (t: string, r: string): Promise<LockAcquisition> => (await parts()).lock.acquire(t, r),
    renew: async (t: string, r: string) => (await parts()).lock.renew(t, r),
    release: async (t: string, r: string) => (await parts()).lock.release(t, r),
    forceRelease: async (t: string, o?: { breakLease?: boolean }): Promise<ForcedRelease> =>
      (await parts()).lock.forceRelease(t, o),
    holder: async (t: string): Promise<LockHolder | undefined> => (await parts()).lock.holder(t),
  };
  return { store, lock };
}

/** The `azure-blob` state kind. */
export const azureBlobState = defineStateKind({
  kind: 'azure-blob',
  schema: azureBlobStateSchema,
  location: blobLocation,
  open(state, context) {
    if (!context?.config) {
      throw new Error('state.kind azure-blob needs the configuration (tenantId, cloud, auth) to sign in');
    }
    return {
      ...lazyBackend(state, context.config),
      location: blobLocation(state),
      // A blob lease lasts 60 s: renew at a third of it, so one lost renewal still leaves time for the next.
      renewEveryMs: 20_000,
    };
  },
});
