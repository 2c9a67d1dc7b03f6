/**
 * The e2e invariant checks themselves (test/helpers/sandbox.ts), over hand-written sandbox histories: each one holds
 * for a correct rotation and reports the violation it exists for. Without this, a check that can never fail would
 * make every e2e test above it pass for nothing.
 */
import { describe, expect, it } from 'vitest';
import { checkI1, checkI2, checkI3, type HistoryEvent, type SandboxState } from '../helpers/sandbox.js';

const appId = 'app-1';
const server = 'contoso-api';
const OLD = 'AAAA';
const NEW = 'BBBB';
const key = (
  keyId: string,
  thumbprint: string,
  start = '2026-01-01T00:00:00.000Z',
  end = '2027-01-01T00:00:00.000Z',
) => ({
  keyId,
  thumbprint,
  start,
  end,
});
const at = (s: number) => `2026-11-28T08:00:${String(s).padStart(2, '0')}.000Z`;

/** A correct rotation: seed, attach, token with the new key, install, verify, retire. */
function goodHistory(): HistoryEvent[] {
  return [
    { time: at(0), kind: 'appKeys', appId, keys: [key('k-old', OLD)] },
    { time: at(0), kind: 'serverKey', server, thumbprint: OLD },
    { time: at(1), kind: 'appKeys', appId, keys: [key('k-old', OLD), key('k-new', NEW)] },
    { time: at(2), kind: 'token', appId, thumbprint: NEW, resource: 'https://dataverse' },
    { time: at(3), kind: 'serverKey', server, thumbprint: NEW },
    { time: at(4), kind: 'token', appId, thumbprint: NEW, resource: 'https://dataverse' },
    { time: at(5), kind: 'appKeys', appId, keys: [key('k-new', NEW)] },
  ];
}

function state(versions: { thumbprint: string; run?: string; enabled?: boolean }[]): SandboxState {
  return {
    apps: [],
    servers: [],
    sites: [],
    vaults: [
      {
        url: 'https://kv',
        certificates: [
          {
            name: 'contoso-s2s',
            versions: versions.map((v, i) => ({
              version: `v${i}`,
              thumbprint: v.thumbprint,
              enabled: v.enabled ?? true,
              tags: (v.run ? { 'certrotate-run': v.run } : {}) as Record<string, string>,
            })),
          },
        ],
      },
    ],
  };
}

const ref = { appId, server };
const i3 = { ...ref, vaultUrl: 'https://kv', certificate: 'contoso-s2s', runIds: ['run-1'] };

describe('invariant checks over the sandbox history', () => {
  it('all hold for a correct rotation', () => {
    const h = goodHistory();
    expect(checkI1(h, ref)).toEqual([]);
    expect(checkI2(h, { ...ref, oldThumbprint: OLD, newThumbprint: NEW })).toEqual([]);
    expect(checkI3(h, state([{ thumbprint: OLD }, { thumbprint: NEW, run: 'run-1' }]), i3)).toEqual([]);
  });

  it('I1 reports the old key leaving while the server still uses it', () => {
    const h = goodHistory();
    // Retire before install: the server is left on a key the app no longer holds.
    const [retire] = h.splice(6, 1);
    h.splice(3, 0, { ...retire!, time: at(2) });
    expect(checkI1(h, ref).join('\n')).toMatch(/server's key AAAA is not a valid credential/);
  });

  it('I1 reports a server key that expired on the app', () => {
    const h = goodHistory().slice(0, 2);
    h[0] = { time: at(0), kind: 'appKeys', appId, keys: [key('k-old', OLD, at(0), '2026-11-28T07:00:00.000Z')] };
    expect(checkI1(h, ref).join('\n')).toMatch(/not a valid credential/);
  });

  it('I1 reports a server switched to a key that never produced a token', () => {
    const h = goodHistory().filter((e) => !(e.kind === 'token' && e.time === at(2)));
    expect(checkI1(h, ref).join('\n')).toMatch(/switched to BBBB before that key produced any token/);
  });

  it('I2 reports the old key removed before the new one produced a token', () => {
    const h = goodHistory().filter((e) => e.kind !== 'token');
    expect(checkI2(h, { ...ref, oldThumbprint: OLD, newThumbprint: NEW }).join('\n')).toMatch(/I2 .*AAAA left/);
  });

  it('I3 reports a second credential, a second version, and a version of another run', () => {
    const h = goodHistory();
    h.splice(2, 0, { time: at(1), kind: 'appKeys', appId, keys: [key('k-old', OLD), key('k-dup', NEW)] });
    expect(checkI3(h, state([{ thumbprint: OLD }, { thumbprint: NEW, run: 'run-1' }]), i3).join('\n')).toMatch(
      /key BBBB was attached 2 times/,
    );
    const two = state([{ thumbprint: OLD }, { thumbprint: NEW, run: 'run-1' }, { thumbprint: 'CCCC', run: 'run-1' }]);
    expect(checkI3(goodHistory(), two, i3).join('\n')).toMatch(/vault holds 3 version/);
    const foreign = state([{ thumbprint: OLD }, { thumbprint: NEW, run: 'run-9' }]);
    expect(checkI3(goodHistory(), foreign, i3).join('\n')).toMatch(/made by run run-9/);
  });
});
