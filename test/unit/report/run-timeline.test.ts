import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../../src/adapters/ports.js';
import { buildTimeline, formatDuration, timelineText, timeScale } from '../../../src/report/run-timeline.js';

const T0 = Date.parse('2026-11-28T08:00:00.000Z');

/** A journal line `ms` after T0. */
const at = (ms: number, step: string, event: string, detail?: JournalEntry['detail']): JournalEntry => ({
  time: new Date(T0 + ms).toISOString(),
  runId: 'r-1',
  target: 'contoso-api',
  step,
  event,
  ...(detail !== undefined ? { detail } : {}),
});

/** A run as the driver journals it: a two-part generate, a propagation retry, a park, a resume two days later. */
const journal: JournalEntry[] = [
  at(0, 'run', 'started', 'rotate contoso-api'),
  at(10, 'observeTarget', 'started'),
  at(200, 'observeTarget', 'succeeded', '{}'),
  at(1_000, 'generating', 'confirmed', 'create a new version'),
  at(1_010, 'generateCertificate', 'started'),
  at(1_100, 'generateCertificate', 'succeeded', '{"status":"pending"}'),
  at(1_110, 'generateCertificate', 'started'),
  at(3_000, 'generateCertificate', 'succeeded', '{}'),
  at(3_500, 'attaching', 'confirmed', 'add key'),
  at(3_510, 'attachKeyCredential', 'started'),
  at(4_000, 'attachKeyCredential', 'succeeded', '{}'),
  at(4_010, 'awaitPropagation', 'started'),
  at(4_020, 'awaitPropagation', 'failed', { code: 'keyNotFound', message: 'AADSTS700027', retryable: true }),
  at(4_021, 'awaitPropagation', 'retrying', 'attempt 2 in 10000 ms after keyNotFound'),
  at(14_030, 'awaitPropagation', 'started'),
  at(14_100, 'awaitPropagation', 'succeeded', '{}'),
  at(15_000, 'installing', 'declined', 'install key'),
  at(15_010, 'awaitingOperator', 'parked', 'The operator declined'),
  at(2 * 86_400_000, 'run', 'resumed'),
  at(2 * 86_400_000 + 3_000, 'installing', 'confirmed', 'install key'),
  at(2 * 86_400_000 + 3_010, 'installServerKey', 'started'),
  at(2 * 86_400_000 + 3_200, 'installServerKey', 'succeeded', '{}'),
  at(2 * 86_400_000 + 3_300, 'succeeded', 'succeeded'),
];

describe('run timeline', () => {
  it('has a lane per step with its attempts and waits, and marks for everything else', () => {
    const t = buildTimeline(journal);
    expect(t.start).toBe(T0);
    expect(t.end).toBe(T0 + 2 * 86_400_000 + 3_300);
    expect(t.lanes.map((l) => [l.step, l.status, l.attempts])).toEqual([
      ['observeTarget', 'succeeded', 1],
      ['generateCertificate', 'succeeded', 1], // create, then the poll for the issued version: one attempt
      ['attachKeyCredential', 'succeeded', 1],
      ['awaitPropagation', 'succeeded', 2],
      ['installServerKey', 'succeeded', 1],
    ]);
    const propagation = t.lanes.find((l) => l.step === 'awaitPropagation')!;
    expect(propagation.spans).toEqual([
      { kind: 'working', from: T0 + 4_010, to: T0 + 4_020 },
      { kind: 'waiting', from: T0 + 4_021, to: T0 + 14_030 },
      { kind: 'working', from: T0 + 14_030, to: T0 + 14_100 },
    ]);
    expect(propagation.lastError).toBe('keyNotFound: AADSTS700027');
    expect(t.marks.map((m) => `${m.step} ${m.event}`)).toEqual([
      'run started',
      'generating confirmed',
      'attaching confirmed',
      'installing declined',
      'awaitingOperator parked',
      'run resumed',
      'installing confirmed',
      'succeeded succeeded',
    ]);
  });

  it('closes what was at work when the run is interrupted, and a restart is a new attempt', () => {
    const t = buildTimeline([
      at(0, 'attachKeyCredential', 'started'),
      at(5_000, 'attaching.running', 'interrupted', 'stopped'),
      at(9_000, 'run', 'resumed'),
      at(9_100, 'attachKeyCredential', 'started', 're-run after restore'),
    ]);
    const lane = t.lanes[0]!;
    expect(lane.attempts).toBe(2);
    expect(lane.status).toBe('running');
    expect(lane.spans[0]).toEqual({ kind: 'working', from: T0, to: T0 + 5_000 });
  });

  it('shortens gaps longer than a minute on the axis so two days parked do not squash the work', () => {
    const t = buildTimeline(journal);
    const scale = timeScale(t, 60);
    expect(scale.compressed).toEqual([{ from: T0 + 15_010, to: T0 + 2 * 86_400_000 }]);
    // The 10 s propagation wait still takes a visible share of the axis.
    expect(scale.column(T0 + 14_030) - scale.column(T0 + 4_021)).toBeGreaterThanOrEqual(5);
    expect(scale.column(t.start)).toBe(0);
    expect(scale.column(t.end)).toBe(59);
    // Monotonic.
    let last = -1;
    for (let ms = 0; ms <= t.end - t.start; ms += 3_600_000 / 7) {
      const c = scale.column(T0 + ms);
      expect(c).toBeGreaterThanOrEqual(last);
      last = c;
    }
  });

  it('draws lanes, the operator lane, the gap note and the legend as text', () => {
    const lines = timelineText(buildTimeline(journal), { width: 40 });
    const lane = (step: string) => lines.find((l) => l.startsWith(step))!;
    expect(lane('awaitPropagation')).toMatch(/█░+█/);
    expect(lane('awaitPropagation')).toMatch(/, 2 attempts$/);
    expect(lane('generateCertificate')).not.toMatch(/attempts/);
    expect(lane('operator')).toContain('◆');
    expect(lane('operator')).toContain('⏸');
    expect(lines.some((l) => /✗ \+15\.0s +installing declined — install key/.test(l))).toBe(true);
    expect(lines.some((l) => /● \+2d 0h +outcome succeeded/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('⋯ 1d 23h without journal events, shortened on the axis'))).toBe(true);
    expect(lines[0]).toContain('⋯');
    for (const l of lines.filter((x) => /^[a-zA-Z]/.test(x) && !x.startsWith('operator'))) {
      expect(l.length).toBeLessThan(100);
    }
  });

  it('marks a step that failed for good', () => {
    const lines = timelineText(
      buildTimeline([
        at(0, 'verifyNewKey', 'started'),
        at(2_000, 'verifyNewKey', 'failed', { code: 'forbidden', message: 'no' }),
        at(2_001, 'failed', 'failed', { code: 'forbidden', message: 'no' }),
      ]),
      { width: 20 },
    );
    expect(lines.find((l) => l.startsWith('verifyNewKey'))).toMatch(/✗.* failed$/);
  });

  it('formats durations for people', () => {
    expect([500, 12_340, 185_000, 7_800_000, 2 * 86_400_000 + 3_600_000].map(formatDuration)).toEqual([
      '500ms',
      '12.3s',
      '3m 5s',
      '2h 10m',
      '2d 1h',
    ]);
  });
});

describe('the operator lane and --yes', () => {
  it('shows the answers people gave, not the gates an invocation answered with --yes or a plan', () => {
    const lines = [
      at(0, 'run', 'started', 'rotate contoso-api --yes'),
      { ...at(100, 'generating', 'confirmed', 'create'), by: 'yes' as const },
      { ...at(200, 'attaching', 'confirmed', 'add key'), by: 'plan' as const },
      at(300, 'run', 'resumed'),
      { ...at(400, 'retiring', 'confirmed', 'remove old key'), by: 'operator' as const },
      // A journal written before `by` existed: its answers were people's.
      at(500, 'installing', 'confirmed', 'install key'),
    ];
    const marks = buildTimeline(lines).marks.map((m) => `${m.step} ${m.event}`);
    expect(marks).toEqual(['run started', 'run resumed', 'retiring confirmed', 'installing confirmed']);
  });
});
