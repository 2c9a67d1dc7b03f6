/** The sandbox's injected-fault bodies answer each status with the code that service sends for it (issue 10, 9d). */
import { describe, expect, it } from 'vitest';
import { graphFault, vaultFault } from '../../../src/sandbox/hosts.js';

const clock = { now: () => Date.parse('2026-06-01T00:00:00Z'), advance: () => undefined };
const code = (body: unknown) => (body as { error: { code: string } }).error.code;

describe('injected fault bodies', () => {
  it('Graph: 403 is Authorization_RequestDenied, not ServiceUnavailable', () => {
    const graph = graphFault(clock);
    expect(code(graph(403, 'Injected fault (status 403).'))).toBe('Authorization_RequestDenied');
    expect(code(graph(404, 'x'))).toBe('Request_ResourceNotFound');
    expect(code(graph(401, 'x'))).toBe('InvalidAuthenticationToken');
    expect(code(graph(429, 'x'))).toBe('Request_ThrottledTemporarily');
    expect(code(graph(503, 'x'))).toBe('ServiceUnavailable');
    expect(code(graph(500, 'x'))).toBe('ServiceUnavailable');
  });

  it('Key Vault: 403 is Forbidden, 401 Unauthorized, 409 Conflict; 5xx ServiceUnavailable', () => {
    expect(code(vaultFault(403, 'x'))).toBe('Forbidden');
    expect(code(vaultFault(401, 'x'))).toBe('Unauthorized');
    expect(code(vaultFault(409, 'x'))).toBe('Conflict');
    expect(code(vaultFault(429, 'x'))).toBe('Throttled');
    expect(code(vaultFault(503, 'x'))).toBe('ServiceUnavailable');
  });

  it('a 4xx with no code of its own is named by its status, never a server error', () => {
    expect(code(vaultFault(418, 'x'))).toBe('Http418');
    expect(code(graphFault(clock)(418, 'x'))).toBe('Http418');
  });
});
