/**
 * The `file` state backend: runs under `<state.dir>/runs/`, locks under `<state.dir>/locks/` (DESIGN §4), on one
 * machine's disk.
 */
import { z } from 'zod';
import { FileTargetLock } from './file-lock.js';
import { FileRunStore } from './file-run-store.js';
import { defineStateKind } from './state-kind.js';

/** `state: { kind: file, dir }`; `dir` is relative to the config file (default `.certrotate`). */
export const fileStateSchema = z.strictObject({
  // The default kind: a config without a `state` section, or without `state.kind`, keeps its state here.
  kind: z.literal('file').default('file'),
  dir: z.string().min(1).default('.certrotate'),
});

/** The `file` state kind. */
export const fileState = defineStateKind({
  kind: 'file',
  schema: fileStateSchema,
  resolvePaths(state, absolute) {
    state.dir = absolute(state.dir);
  },
  location: (state) => state.dir,
  open: (state) => ({
    store: new FileRunStore(state.dir),
    lock: new FileTargetLock(state.dir),
    location: state.dir,
  }),
});
