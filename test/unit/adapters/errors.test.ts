import { RestError, createHttpHeaders } from '@azure/core-rest-pipeline';
import { AggregateAuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { GraphError } from '@microsoft/microsoft-graph-client';
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../../src/adapters/ports.js';
import {
  classifyAadsts,
  classifyError,
  classifyHttpFailure,
  retryAfterMsFrom,
  signInFailure,
  SIGN_IN_UNAVAILABLE,
} from '../../../src/adapters/azure/errors.js';

/** A RestError as the Key Vault SDK throws it, with a real response carrying headers. */
function restError(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  const h = createHttpHeaders(headers);
  return new RestError(message, {
    code,
    statusCode: status,
    response: { status, headers: h, request: {} as never, bodyAsText: '' } as never,
  });
}

describe('retryAfterMsFrom', () => {
  it('reads seconds, HTTP dates and the millisecond headers', () => {
    expect(retryAfterMsFrom({ 'Retry-After': '7' })).toBe(7000);
    expect(retryAfterMsFrom(new Headers({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterMsFrom({ 'x-ms-retry-after-ms': '1200', 'retry-after': '9' })).toBe(1200);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMsFrom({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, now)).toBe(30_000);
    expect(retryAfterMsFrom({})).toBeUndefined();
    expect(retryAfterMsFrom({ 'retry-after': 'soon' })).toBeUndefined();
  });
});

describe('classifyHttpFailure', () => {
  it.each([
    [429, 'throttled', true],
    [503, 'unavailable', true],
    [500, 'unavailable', true],
    [504, 'timeout', true],
    [408, 'timeout', true],
    [401, 'forbidden', false],
    [403, 'forbidden', false],
    [404, 'notFound', false],
    [409, 'conflict', false],
    [400, 'invalidRequest', false],
    [501, 'invalidRequest', false],
  ])('maps %i to %s (retryable %s)', (status, code, retryable) => {
    expect(classifyHttpFailure({ status })).toMatchObject({ code, retryable, status });
  });

  it('keeps Retry-After on 429 and 503 and the request id', () => {
    const e = classifyHttpFailure({ status: 429, headers: { 'retry-after': '12', 'x-ms-request-id': 'r-1' } });
    expect(e).toMatchObject({ code: 'throttled', retryable: true, retryAfterMs: 12_000, requestId: 'r-1' });
    expect(classifyHttpFailure({ status: 503, headers: { 'retry-after': '3' } }).retryAfterMs).toBe(3000);
  });

  it('reads a 401 on a call carrying a proof as the proof being refused', () => {
    const e = classifyHttpFailure({ status: 401, serviceCode: 'Authentication_MissingOrMalformed' }, { proof: true });
    expect(e).toMatchObject({ code: 'invalidProof', retryable: false });
  });

  it('reads Graph\'s 400 "No credentials found to be removed" as notFound', () => {
    const e = classifyHttpFailure({
      status: 400,
      serviceCode: 'Request_BadRequest',
      message: "No credentials found to be removed. keyId: 'x'.",
    });
    expect(e.code).toBe('notFound');
  });
});

describe('classifyAadsts', () => {
  const body = (reason: string) =>
    `invalid_client: Error(s): 700027 - Timestamp: 2026-01-01 - Description: AADSTS700027: Client assertion contains an invalid signature. [Reason - ${reason}, Thumbprint of key used by client: 'AB'] Trace ID: t Correlation ID: c`;

  it('700027 "key was not found" is keyNotFound, retryable (propagation)', () => {
    expect(classifyAadsts(body('The key was not found.'))).toMatchObject({ code: 'keyNotFound', retryable: true });
  });
  it('700027 "key used is expired" is keyExpired, fatal', () => {
    expect(classifyAadsts(body('The key used is expired.'))).toMatchObject({ code: 'keyExpired', retryable: false });
  });
  it('other codes are fatal with a remediation line', () => {
    const e = classifyAadsts('AADSTS7000215: Invalid client secret provided.');
    expect(e).toMatchObject({ code: 'forbidden', retryable: false });
    expect(e?.message).toMatch(/Renew certrotate's own client secret/);
    expect(classifyAadsts('AADSTS700016: Application not found')?.code).toBe('notFound');
    expect(classifyAadsts('AADSTS700024: not within its valid time range')?.message).toMatch(/clock/);
  });
  it('is undefined for text without an AADSTS code', () => {
    expect(classifyAadsts('something else')).toBeUndefined();
  });
});

describe('classifyError', () => {
  it("maps the Key Vault SDK's RestError with its headers", () => {
    const e = classifyError(
      restError(429, 'Throttled', 'Request was not processed because too many requests were received.', {
        'retry-after': '5',
        'x-ms-request-id': 'kv-req',
      }),
    );
    expect(e).toMatchObject({
      code: 'throttled',
      retryable: true,
      retryAfterMs: 5000,
      requestId: 'kv-req',
      status: 429,
    });
    expect(classifyError(restError(404, 'CertificateNotFound', 'Certificate not found: c1')).code).toBe('notFound');
    expect(classifyError(restError(409, 'Forbidden', 'pending create in progress')).code).toBe('conflict');
  });

  it("maps Graph's GraphError by status, code and request id", () => {
    const g = new GraphError(429, 'Too many requests');
    g.headers = new Headers({ 'retry-after': '30' });
    g.code = 'Request_ThrottledTemporarily';
    g.requestId = 'graph-req';
    expect(classifyError(g)).toMatchObject({ code: 'throttled', retryAfterMs: 30_000, requestId: 'graph-req' });
  });

  it('maps identity errors by their AADSTS text, also when it is only in the cause', () => {
    const cause = new Error(
      'AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found.]',
    );
    const err = new Error('ClientCertificateCredential authentication failed', { cause });
    err.name = 'AuthenticationRequiredError';
    expect(classifyError(err)).toMatchObject({ code: 'keyNotFound', retryable: true });
  });

  it('maps dropped connections and timeouts as retryable, aborts as aborted', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classifyError(new TypeError('fetch failed', { cause: reset }))).toMatchObject({
      code: 'unavailable',
      retryable: true,
    });
    // A refused connection or an unknown host never sent the request: it cannot have written anything.
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyError(new TypeError('fetch failed', { cause: refused }))).toMatchObject({ notSent: true });
    expect(classifyError(new TypeError('fetch failed', { cause: reset })).notSent).toBeUndefined();
    const timeout = new DOMException('timed out', 'TimeoutError');
    expect(classifyError(timeout)).toMatchObject({ code: 'timeout', retryable: true });
    const abort = new DOMException('aborted', 'AbortError');
    expect(classifyError(abort).code).toBe('aborted');
  });

  it('keeps an AdapterError as it is and leaves the unknown unretryable', () => {
    const a = new AdapterError({ code: 'conflict', message: 'x', retryable: true });
    expect(classifyError(a)).toEqual(a.detail);
    expect(classifyError(new Error('strange'))).toMatchObject({ code: 'unknown', retryable: false });
  });

  it('never echoes key material from a service message', () => {
    const e = classifyHttpFailure({
      status: 400,
      message: 'bad -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY----- here',
    });
    expect(e.message).not.toContain('MIIEvQIBADANBg');
  });
});

describe('signInFailure', () => {
  /** The chain DefaultAzureCredential reports on a machine with nothing to sign in with (messages as the SDK words them). */
  const chain = () =>
    new AggregateAuthenticationError(
      [
        new CredentialUnavailableError(
          'EnvironmentCredential is unavailable. No underlying credential could be used. To troubleshoot, visit https://aka.ms/azsdk/js/identity/environmentcredential/troubleshoot.',
        ),
        new CredentialUnavailableError(
          'ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details',
        ),
        new CredentialUnavailableError(
          'Visual Studio Code Authentication is not available. Ensure you have have Azure Resources Extension installed in VS Code.',
        ),
        new CredentialUnavailableError(
          "Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions and then, once installed, authenticate to your Azure account using 'az login'.",
        ),
        new CredentialUnavailableError(
          'Error: Unable to execute PowerShell. Ensure that it is installed in your system. To troubleshoot, visit https://aka.ms/azsdk/js/identity/powershellcredential/troubleshoot.',
        ),
        new CredentialUnavailableError(
          "Please run 'azd auth login' from a command prompt to authenticate before using this credential.",
        ),
      ],
      'ChainedTokenCredential authentication failed.',
    );

  it('says in one sentence which methods were tried, why each was unavailable, and what to do', () => {
    const e = signInFailure(chain());
    expect(e).toEqual({
      code: SIGN_IN_UNAVAILABLE,
      retryable: false,
      message:
        'cannot sign in to Azure: tried environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or ' +
        'certificate are not set), managed identity (no managed identity endpoint answered, not on Azure), VS Code ' +
        '(not signed in to Azure), Azure CLI (not installed), Azure PowerShell (not installed), Azure Developer CLI ' +
        '(not signed in); run `az login` here, use workload identity in a pipeline, or set auth.kind in the configuration',
    });
    expect(e?.message).not.toMatch(/aka\.ms|\n/);
  });

  it('is what classifyError makes of the chain, with no operation prefix and not retryable, however deep it is wrapped', () => {
    const wrapped = new Error('Graph: reading app', { cause: chain() });
    // The Graph client wraps what its auth provider threw in a GraphError that keeps only the message and name.
    const graph = Object.assign(new GraphError(-1, '', chain()), { code: 'AggregateAuthenticationError' });
    for (const thrown of [chain(), wrapped, graph]) {
      const e = classifyError(thrown, { operation: 'Graph: reading app 1111' });
      expect(e.code).toBe(SIGN_IN_UNAVAILABLE);
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/^cannot sign in to Azure: tried environment variables/);
    }
    const lone = classifyError(
      new CredentialUnavailableError(
        "Please run 'az login' from a command prompt to authenticate before using this credential.",
      ),
    );
    expect(lone).toMatchObject({ code: SIGN_IN_UNAVAILABLE, retryable: false });
    expect(lone.message).toContain('tried Azure CLI (not signed in)');
  });

  it('leaves Entra answers alone: a chain with a real authentication error is not "unavailable"', () => {
    const refused = new AggregateAuthenticationError(
      [
        new CredentialUnavailableError('EnvironmentCredential is unavailable.'),
        new Error('AADSTS7000215: Invalid client secret provided.'),
      ],
      'ChainedTokenCredential authentication failed.',
    );
    expect(signInFailure(refused)).toBeUndefined();
    expect(classifyError(refused).code).toBe('forbidden');
  });
});
