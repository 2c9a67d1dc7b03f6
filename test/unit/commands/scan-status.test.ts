/** scan's exit code per status and its short STATUS cell (issue 10 defects 1 and 9e). */
import { describe, expect, it } from 'vitest';
import { shortReason, statusCell } from '../../../src/commands/key-status.js';
import { scanExitCode, withInventory, type ScanRow } from '../../../src/commands/scan.js';

const rows = (...statuses: ScanRow['status'][]) => statuses.map((status) => ({ status }));

describe('scan exit code', () => {
  it('is 1 for a broken, blocked or unreadable target, with or without --detailed-exitcode', () => {
    for (const status of ['broken', 'blocked', 'unknown'] as const) {
      expect(scanExitCode(rows('due', status), 0, true)).toBe(1);
      expect(scanExitCode(rows('ok', status), 0, false)).toBe(1);
    }
  });

  it('is 2 only with --detailed-exitcode and only for due, expired or orphaned targets', () => {
    for (const status of ['due', 'expired', 'orphaned'] as const) {
      expect(scanExitCode(rows('ok', status), 0, true)).toBe(2);
    }
    for (const status of ['due', 'orphaned'] as const) expect(scanExitCode(rows('ok', status), 0, false)).toBe(0);
    expect(scanExitCode(rows('ok', 'federated', 'inFlight'), 0, true)).toBe(0);
  });

  it('is 1 without --detailed-exitcode for an expired key in service: its sign-ins fail now', () => {
    expect(scanExitCode(rows('ok', 'expired'), 0, false)).toBe(1);
    expect(scanExitCode(rows('ok', 'due', 'expired'), 0, false)).toBe(1);
  });

  it('is 1 when a read failed, whatever the rows say', () => {
    expect(scanExitCode(rows('ok'), 1, false)).toBe(1);
  });
});

describe('the STATUS cell', () => {
  it('holds the short reason, not the full error', () => {
    const error = `the server uses key ${'A'.repeat(40)}, which is not registered on app ${'b'.repeat(36)}: fix it`;
    expect(statusCell({ status: 'broken', reason: 'short', error })).toBe('broken (short)');
    const cell = statusCell({ status: 'unknown', error: `${'x'.repeat(300)}\nmore` });
    expect(cell.length).toBeLessThanOrEqual('unknown ()'.length + 80);
    expect(cell.endsWith('…)')).toBe(true);
    expect(shortReason('fits')).toBe('fits');
  });
});

describe('a row with an orphaned Key Vault version', () => {
  const row: ScanRow = {
    name: 'contoso-api',
    kind: 'keyvault',
    credential: 'certificate',
    thumbprint: 'AA'.padEnd(40, '0'),
    expiresOn: '2028-01-01T00:00:00.000Z',
    daysLeft: 400,
    status: 'ok',
  };
  const late = {
    version: 'v2',
    thumbprint: 'BB'.padEnd(40, '0'),
    createdOn: '2026-12-02T01:00:10.000Z',
    expiresOn: '2028-12-02T01:00:10.000Z',
    runId: '20261202T010000Z-contoso-api-abcdef',
    liveness: 'finished' as const,
    createdAfterRunEnded: true,
    why: 'created after its run ended (run 20261202T010000Z-contoso-api-abcdef last recorded …)',
  };

  it('is orphaned, lists the version with its run, and names prune', () => {
    const out = withInventory(row, { entries: [], orphans: [], orphanVersions: [late] });
    expect(out.status).toBe('orphaned');
    expect(out.orphanVersions).toEqual([
      {
        version: 'v2',
        thumbprint: late.thumbprint,
        createdOn: late.createdOn,
        expiresOn: late.expiresOn,
        runId: late.runId,
        role: 'orphaned',
        why: late.why,
      },
    ]);
    expect(out.detail).toContain(`Key Vault version v2 (key ${late.thumbprint}) of run ${late.runId}`);
    expect(out.detail).toContain('created after its run ended');
    expect(out.detail).toContain('`certrotate prune contoso-api` disables them');
  });

  it('keeps a row without one as it was: no orphanVersions field, status unchanged', () => {
    const out = withInventory(row, { entries: [], orphans: [], orphanVersions: [] });
    expect(out.status).toBe('ok');
    expect('orphanVersions' in out).toBe(false);
  });
});
