/** scan's exit code per status and its short STATUS cell (issue 10 defects 1 and 9e). */
import { describe, expect, it } from 'vitest';
import { shortReason, statusCell } from '../../../src/commands/key-status.js';
import { scanExitCode, type ScanRow } from '../../../src/commands/scan.js';

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
