import { describe, expect, it } from 'vitest';
import { parseSignInFilter } from '../../../../src/sandbox/graph/sign-ins.js';

describe("sandbox Graph: the sign-in log's $filter", () => {
  it('reads the documented service-principal clauses, with or without parentheses', () => {
    expect(
      parseSignInFilter(
        "appId eq 'ABC' and (signInEventTypes/any(t: t eq 'servicePrincipal')) and createdDateTime ge 2026-01-01T00:00:00Z",
      ),
    ).toEqual([
      { kind: 'appId', value: 'abc' },
      { kind: 'servicePrincipal' },
      { kind: 'createdDateTime', op: 'ge', ms: Date.parse('2026-01-01T00:00:00Z') },
    ]);
    expect(parseSignInFilter("signInEventTypes/any(x:x eq 'servicePrincipal')")).toEqual([
      { kind: 'servicePrincipal' },
    ]);
  });

  it("answers Graph's 400 for a clause it does not support", () => {
    expect(() => parseSignInFilter("servicePrincipalCredentialKeyId eq 'k'")).toThrow(/Unsupported/);
    expect(() => parseSignInFilter('createdDateTime ge yesterday')).toThrow(/Unsupported/);
  });
});
