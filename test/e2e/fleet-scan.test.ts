/**
 * Fast scan (issue 12): `scan` reads a fleet of targets concurrently under the shared limiter, prints them in the
 * config's order with the same document a one-at-a-time scan prints, and asks Entra for certrotate's own tokens once
 * per scope for the whole fleet (the sandbox's `GET /tokens` counts tokens per identity and resource).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { admin, cli, parseJson, startE2eSandbox, type Sandbox } from '../helpers/sandbox.js';

interface TokenCount {
  appId: string;
  resource: string;
  count: number;
}
interface ScanDocument {
  formatVersion: number;
  targets: { name: string; status: string }[];
}

const tokens = (sb: Sandbox) => admin<TokenCount[]>(sb, 'GET', '/tokens');
const delta = (before: TokenCount[], after: TokenCount[]) =>
  after
    .map((t) => ({
      ...t,
      count: t.count - (before.find((b) => b.appId === t.appId && b.resource === t.resource)?.count ?? 0),
    }))
    .filter((t) => t.count > 0);

describe('scan of a fleet', () => {
  let sb: Sandbox;
  let configOrder: string[];

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 24 });
    const config = parse(await readFile(sb.configPath, 'utf8')) as { targets: { name: string }[] };
    configOrder = config.targets.map((t) => t.name);
  });
  afterAll(() => sb?.stop());

  it('reads the targets concurrently, in config order, asking once per identity and scope for its tokens', async () => {
    const before = await tokens(sb);
    const r = await cli(sb.configPath, ['scan', '--json', '--concurrency', '8']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<ScanDocument>(r);
    expect(doc.targets.map((t) => t.name)).toEqual(configOrder);
    expect(doc.targets.filter((t) => t.name.startsWith('bench-')).map((t) => t.status)).toEqual(Array(24).fill('due'));
    const asked = delta(before, await tokens(sb));
    for (const t of asked) expect(t, `${t.appId} ${t.resource}`).toMatchObject({ count: 1 });
    // certrotate's own identity: one token per resource for all 28 targets (Graph and the vaults).
    const own = asked.filter((t) => t.appId === sb.operator.clientId);
    expect(own.map((t) => t.resource)).toEqual(
      expect.arrayContaining([sb.urls.graph.replace(/\/+$/, ''), 'https://vault.azure.net']),
    );
  });

  it('prints the same document one target at a time', async () => {
    const fast = await cli(sb.configPath, ['scan', '--json']);
    const slow = await cli(sb.configPath, ['scan', '--json', '--concurrency', '1']);
    expect(fast.code, fast.stderr).toBe(0);
    expect(slow.code, slow.stderr).toBe(0);
    expect(parseJson(fast)).toEqual(parseJson(slow));
  });

  it('refuses a --concurrency that is not a whole number ≥ 1', async () => {
    const r = await cli(sb.configPath, ['scan', '--concurrency', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--concurrency');
    expect(r.stderr).toContain("'0'");
  });
});
