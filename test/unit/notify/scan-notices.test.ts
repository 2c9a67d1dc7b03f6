import { describe, expect, it } from 'vitest';
import {
  lowestCrossed,
  readSentRecord,
  scanNotices,
  type NoticeRow,
  type NotifySentRecord,
} from '../../../src/notify/scan-notices.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-01T06:00:00.000Z');
// The key expires 2 h past a whole number of days, so a second scan 1 h later the same day sees the same days left.
const row = (daysLeft: number, thumbprint = 'AA11', now = NOW): NoticeRow => ({
  name: 'contoso-api',
  thumbprint,
  expiresOn: new Date(now + daysLeft * DAY + 7_200_000).toISOString(),
  daysLeft,
});

/** Marks every notice as told on `channel`, the way scan-notify records a sent delivery. */
function tell(rec: NotifySentRecord, rows: NoticeRow[], now: number, runs: Parameters<typeof scanNotices>[1] = []) {
  const told: string[] = [];
  for (const n of scanNotices(rows, runs, { now, parkedAfterMs: DAY })) {
    if (n.alreadyTold(rec, 'ops', now)) continue;
    rec.sent[`${n.key}|ops`] = { ...n.remember, at: now };
    told.push(`${n.notification.event}${n.remember.threshold ? `:${n.remember.threshold}` : ''}`);
  }
  return told;
}

describe('expiry thresholds', () => {
  it('names the lowest threshold crossed', () => {
    expect([120, 90, 61, 60, 45, 30, 16, 15, 8, 7, 4, 3, 2, 1, 0].map(lowestCrossed)).toEqual([
      undefined,
      90,
      90,
      60,
      60,
      30,
      30,
      15,
      15,
      7,
      7,
      3,
      3,
      1,
      undefined,
    ]);
  });

  it('a daily scan tells each threshold once, one key after another, and expired once per key', () => {
    const rec = readSentRecord(undefined);
    const told: string[] = [];
    // 95 days down to -2, one scan a day, twice a day: the second scan of a day tells nothing.
    for (let d = 95; d >= -2; d--) {
      const now = NOW + (95 - d) * DAY;
      const r = row(d, 'AA11', now);
      told.push(...tell(rec, [r], now));
      expect(tell(rec, [r], now + 3_600_000)).toEqual([]);
    }
    expect(told).toEqual([
      'expiring:90',
      'expiring:60',
      'expiring:30',
      'expiring:15',
      'expiring:7',
      'expiring:3',
      'expiring:1',
      'expired',
    ]);
    // A new key (rotated) starts again.
    expect(tell(rec, [row(29, 'BB22')], NOW)).toEqual(['expiring:30']);
  });

  it('a scan that skipped days tells only the lowest threshold crossed', () => {
    const rec = readSentRecord(undefined);
    expect(tell(rec, [row(80)], NOW)).toEqual(['expiring:90']);
    expect(tell(rec, [row(10, 'AA11', NOW + 70 * DAY)], NOW + 70 * DAY)).toEqual(['expiring:15']);
  });

  it('skips rows without a key and starts afresh from a record of another shape', () => {
    expect(
      scanNotices([{ name: 'x', thumbprint: null, expiresOn: null, daysLeft: null }], [], {
        now: NOW,
        parkedAfterMs: DAY,
      }),
    ).toEqual([]);
    expect(readSentRecord({ formatVersion: 7, sent: 'x' })).toEqual({ formatVersion: 1, sent: {} });
  });
});

describe('stillParked', () => {
  const run = (updatedAt: number, outcome: string | null = 'awaitingOperator') => ({
    runId: 'r-park',
    target: 'contoso-portal',
    outcome,
    state: 'awaitingPlatformKeyUpdate',
    updatedAt: new Date(updatedAt).toISOString(),
  });

  it('reminds of a run parked longer than notifyParkedAfter, at most once a day', () => {
    const rec = readSentRecord(undefined);
    const parked = NOW - 2 * 3_600_000;
    expect(tell(rec, [], NOW, [run(parked)])).toEqual([]); // parked 2 h < 24 h
    expect(tell(rec, [], parked + DAY + 1000, [run(parked)])).toEqual(['stillParked']);
    expect(tell(rec, [], parked + DAY + 3_600_000, [run(parked)])).toEqual([]);
    expect(tell(rec, [], parked + 2 * DAY + 2000, [run(parked)])).toEqual(['stillParked']);
  });

  it('names the run, its target and the resume command; ignores runs that are not parked', () => {
    const [n] = scanNotices([], [run(NOW - 2 * DAY)], { now: NOW, parkedAfterMs: DAY });
    expect(n!.notification).toMatchObject({
      event: 'stillParked',
      target: 'contoso-portal',
      runId: 'r-park',
      next: 'certrotate resume r-park',
    });
    expect(
      scanNotices([], [run(NOW - 2 * DAY, null), run(NOW - 2 * DAY, 'succeeded')], { now: NOW, parkedAfterMs: DAY }),
    ).toEqual([]);
  });
});

describe('scanNotices commands', () => {
  it('carry the --config of the scan in rotate and resume', () => {
    const parked = {
      runId: '20261201T000000Z-contoso-api-abc123',
      target: 'contoso-api',
      outcome: 'awaitingOperator',
      state: 'awaitingOperator',
      updatedAt: new Date(NOW - 2 * DAY).toISOString(),
    };
    const notices = scanNotices([row(14), { ...row(-1), name: 'gone-api' }], [parked], {
      now: NOW,
      parkedAfterMs: DAY,
      configOption: 'ops/prod.yaml',
    });
    expect(notices.map((n) => n.notification.next)).toEqual([
      'certrotate rotate contoso-api --config ops/prod.yaml',
      'certrotate rotate gone-api --config ops/prod.yaml',
      `certrotate resume ${parked.runId} --config ops/prod.yaml`,
    ]);
  });
});
