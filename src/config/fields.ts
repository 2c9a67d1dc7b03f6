/**
 * Field schemas the config sections share (the top-level schema, and the server and state kinds that each bring
 * their own section). Messages say what was expected; the loader adds the field and the value found.
 */
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.js';

/** A GUID (tenant, app, environment and website ids). */
export const guid = z.guid({ error: 'expected a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47' });

/** An https:// URL. */
export const httpsUrl = z
  .url({ error: 'expected an https:// URL' })
  .refine((u) => u.startsWith('https://'), { error: 'expected an https:// URL' });

/** No timing of a rotation is longer than a certificate may live: ten years (Key Vault's longest validity). */
const MAX_DURATION_DAYS = 3650;
const MAX_DURATION_MS = MAX_DURATION_DAYS * 86_400_000;

/** A duration such as `30s`, `10m`, `12h`, `60d`, parsed to milliseconds. */
export const duration = z
  .string({ error: 'expected a duration such as 30s, 10m, 12h or 60d' })
  .regex(DURATION_PATTERN, { error: 'expected a duration such as 30s, 10m, 12h or 60d' })
  .refine((s) => parseDuration(s)! <= MAX_DURATION_MS, {
    error: `expected a duration of at most ${MAX_DURATION_DAYS}d (ten years)`,
  })
  .transform((s) => parseDuration(s)!);
