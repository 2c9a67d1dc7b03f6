import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../../src/logging/http-log.js';

describe('redactUrl', () => {
  it('replaces the values of SAS, OAuth and token query parameters and keeps the rest', () => {
    const url = redactUrl(
      'https://acct.blob.core.windows.net/c/b?sv=2024-11-04&sig=abc%2Bdef&se=2026&api-version=7.5&code=xyz&client_secret=s3cret&access_token=t',
    );
    expect(url).not.toMatch(/abc|xyz|s3cret|access_token=t\b/);
    expect(url).toContain('sig=REDACTED');
    expect(url).toContain('sv=REDACTED');
    expect(url).toContain('code=REDACTED');
    expect(url).toContain('client_secret=REDACTED');
    expect(url).toContain('api-version=7.5');
  });

  it('drops user and password from the URL', () => {
    expect(redactUrl('https://user:pw@host.example/path')).toBe('https://host.example/path');
  });
});
