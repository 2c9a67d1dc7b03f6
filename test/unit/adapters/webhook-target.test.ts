import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterError } from '../../../src/adapters/ports.js';
import { createWebhookTarget, healthUrlOf } from '../../../src/adapters/servers/webhook.js';
import { FakeClock } from '../../fakes/clock.js';

/** A local app server: records webhook calls; `adopt` decides whether a POSTed key is taken into use. */
let server: Server;
let base: string;
let inUse = 'A'.repeat(40);
let adopt = true;
const calls: { auth?: string; body: unknown }[] = [];

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.on('data', (d: Buffer) => (s += d.toString()));
    req.on('end', () => resolve(s));
  });

beforeAll(async () => {
  server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/admin/s2s-key') {
      const parsed = JSON.parse(await body(req)) as { thumbprint: string };
      calls.push({ ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), body: parsed });
      if (adopt) inUse = parsed.thumbprint;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"installed"}');
      return;
    }
    if (req.url === '/health') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          thumbprint: inUse.toLowerCase(),
          status: 'unhealthy',
          error: 'AADSTS700027: key was not found',
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const config = (extra: { authHeaderEnv?: string; timeout?: number } = {}) => ({
  kind: 'webhook' as const,
  url: `${base}/admin/s2s-key`,
  timeout: extra.timeout ?? 10_000,
  ...(extra.authHeaderEnv ? { authHeaderEnv: extra.authHeaderEnv } : {}),
});
const key = (t: string) => ({
  thumbprint: t,
  secretId: `https://kv.example/secrets/c/${t.slice(0, 32).toLowerCase()}`,
});

describe('webhook target', () => {
  it('defaults the health URL to the webhook origin', () => {
    expect(healthUrlOf(config())).toBe(`${base}/health`);
  });

  it('reads the key in use from health even when the server reports itself unhealthy', async () => {
    inUse = 'B'.repeat(40);
    const t = createWebhookTarget('api', config(), { clock: new FakeClock() });
    expect(await t.currentKey()).toEqual({ thumbprint: 'B'.repeat(40) });
    expect(await t.checkHealth!()).toEqual({ healthy: false, detail: 'AADSTS700027: key was not found' });
  });

  it('POSTs secret id and thumbprint with the Authorization header from the environment', async () => {
    adopt = true;
    inUse = 'B'.repeat(40);
    calls.length = 0;
    const t = createWebhookTarget('api', config({ authHeaderEnv: 'HOOK_AUTH' }), {
      clock: new FakeClock(),
      env: { HOOK_AUTH: 'Bearer hook-secret' },
    });
    await t.install(key('C'.repeat(40)));
    expect(calls).toEqual([{ auth: 'Bearer hook-secret', body: key('C'.repeat(40)) }]);
    await t.install(key('C'.repeat(40)));
    expect(calls).toHaveLength(1);
  });

  it('refuses to call without the Authorization value it was told to send', async () => {
    const t = createWebhookTarget('api', config({ authHeaderEnv: 'HOOK_AUTH' }), { clock: new FakeClock(), env: {} });
    let err: unknown;
    try {
      await t.install(key('D'.repeat(40)));
    } catch (e) {
      err = e;
    }
    expect((err as AdapterError).detail).toMatchObject({ code: 'invalidRequest', retryable: false });
  });

  it('polls health until the timeout (simulated clock) and then reports a retryable timeout', async () => {
    adopt = false;
    inUse = 'B'.repeat(40);
    const clock = new FakeClock();
    const t = createWebhookTarget('api', config({ timeout: 5000 }), { clock, pollIntervalMs: 1000 });
    let err: unknown;
    try {
      await t.install(key('E'.repeat(40)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).detail).toMatchObject({ code: 'timeout', retryable: true });
    expect(clock.sleeps).toEqual([1000, 1000, 1000, 1000, 1000]);
  });
});
