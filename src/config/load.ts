import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { serverKindOf } from '../adapters/servers/index.js';
import { stateKindOf } from '../adapters/state/index.js';
import { checkConfigSanity } from './sanity.js';
import { configSchema, type Config } from './schema.js';

/** A configuration that cannot be used. The message names the file, each field, its value and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** One line per problem, without the file header. */
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

/** A loaded configuration with its paths resolved against the config file's directory. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file read. */
  path: string;
  /** Absolute state directory. */
  stateDir: string;
  /** Settings that are allowed but probably not meant, one line each (`line 8, defaults.rotateBefore: …`). */
  warnings: string[];
}

/** Which file to read: the `--config` option, else `CERTROTATE_CONFIG`, else `./certrotate.yaml`. */
export function resolveConfigPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(option ?? env.CERTROTATE_CONFIG ?? 'certrotate.yaml');
}

/** Values of these fields are never echoed in an error message. */
const SECRET_FIELD = /secret|password|token/i;

function renderPath(path: PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(top level)';
}

function valueAt(root: unknown, path: PropertyKey[]): { found: boolean; value?: unknown } {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !(seg in (cur as object))) return { found: false };
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return { found: true, value: cur };
}

function renderValue(path: PropertyKey[], root: unknown): string {
  const { found, value } = valueAt(root, path);
  if (!found) return 'missing';
  const last = path[path.length - 1];
  if (typeof last === 'string' && SECRET_FIELD.test(last)) return 'got a value (not shown)';
  let text = JSON.stringify(value);
  if (text === undefined) text = String(value);
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  return `got ${text}`;
}

/** Formats zod's issues as one readable line each: `line 12, targets[0].keyVault.keySize: got 1024; expected …`. */
export function describeIssues(
  issues: z.core.$ZodIssue[],
  raw: unknown,
  lineOf: (path: PropertyKey[]) => number | undefined,
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const full = [...path, key];
        const line = lineOf(full);
        lines.push(
          `${line ? `line ${line}, ` : ''}${renderPath(full)}: unknown key; expected only the documented keys (a typo must not silently disable a setting)`,
        );
      }
      continue;
    }
    const line = lineOf(path);
    const where = `${line ? `line ${line}, ` : ''}${renderPath(path)}`;
    lines.push(`${where}: ${renderValue(path, raw)}; ${issue.message.replace(/^Invalid input: /, '')}`);
  }
  return lines;
}

/**
 * Parses and validates configuration text. Relative paths in it (`state.dir`, `cloud.caFile`,
 * `auth.certificatePath`, file targets: whatever the state and server kinds declare) are resolved against `baseDir`.
 */
export function parseConfig(text: string, source: string, baseDir: string): Config {
  return parseConfigWithWarnings(text, source, baseDir).config;
}

/** {@link parseConfig}, also returning the warnings of settings that are valid but probably not meant. */
export function parseConfigWithWarnings(
  text: string,
  source: string,
  baseDir: string,
): { config: Config; warnings: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const first = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${first}`;
    });
    throw new ConfigError(`${source} is not valid YAML:\n  ${problems.join('\n  ')}`, problems);
  }
  const raw: unknown = doc.toJS() ?? {};
  if (!isMap(doc.contents)) {
    const problem = 'expected a mapping with tenantId, targets and the other settings at the top level';
    throw new ConfigError(`${source} is not valid: ${problem}`, [problem]);
  }
  const lineOf = (path: PropertyKey[]): number | undefined => {
    // Point at the deepest node of the path that exists in the document.
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
      const range = isScalar(node) || isMap(node) ? node.range : (node as { range?: [number] } | undefined)?.range;
      if (range) return lineCounter.linePos(range[0]).line;
    }
    return undefined;
  };
  // A process parses its configuration once: zod's compiled fast path for objects (built with `new Function` on the
  // first parse) costs more to build than it saves on one parse, so the interpreted path it falls back to runs here
  // (same checks, same issues; issue 10, fast start).
  const result = configSchema.safeParse(raw, { jitless: true });
  if (!result.success) {
    const problems = describeIssues(result.error.issues, raw, lineOf);
    throw new ConfigError(`${source} is not valid:\n  ${problems.join('\n  ')}`, problems);
  }
  const cfg = result.data;
  const findings = checkConfigSanity(cfg).map((f) => {
    const line = lineOf(f.path);
    return { ...f, text: `${line ? `line ${line}, ` : ''}${renderPath(f.path)}: ${f.message}` };
  });
  const errors = findings.filter((f) => f.severity === 'error').map((f) => f.text);
  if (errors.length > 0) throw new ConfigError(`${source} is not valid:\n  ${errors.join('\n  ')}`, errors);
  const warnings = findings.filter((f) => f.severity === 'warning').map((f) => f.text);
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  stateKindOf(cfg.state).resolvePaths?.(cfg.state, abs);
  if (cfg.cloud.caFile) cfg.cloud.caFile = abs(cfg.cloud.caFile);
  if (cfg.auth.kind === 'client-certificate') cfg.auth.certificatePath = abs(cfg.auth.certificatePath);
  for (const t of cfg.targets) {
    // Each server kind knows which of its fields are paths (the `file` kind's `path`).
    if (t.kind === 'keyvault') serverKindOf(t.server).resolvePaths?.(t.server, abs);
  }
  return { config: cfg, warnings };
}

/** Reads and validates the configuration file; throws {@link ConfigError} with readable problems. */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(
        `config file ${path} does not exist; expected a certrotate.yaml (pass --config FILE or set CERTROTATE_CONFIG)`,
      );
    }
    throw new ConfigError(`config file ${path} cannot be read: ${(err as Error).message}`);
  }
  const { config, warnings } = parseConfigWithWarnings(text, path, dirname(path));
  return {
    config,
    path,
    stateDir: stateKindOf(config.state).location(config.state),
    warnings: warnings.map((w) => `${path}: ${w}`),
  };
}
