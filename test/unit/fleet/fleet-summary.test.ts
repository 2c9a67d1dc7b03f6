/** The fleet's summary and JSON document: one row per target, the counts, and Power Pages steps written once. */
import { describe, expect, it } from 'vitest';
import type { FleetRunResult } from '../../../src/fleet/fleet-run.js';
import { fleetDocument, fleetSummary, powerPagesInstructions } from '../../../src/fleet/fleet-summary.js';

const results: FleetRunResult[] = [
  {
    target: 'api-1',
    runId: 'R1',
    outcome: 'succeeded',
    exitCode: 0,
    oldThumbprint: 'A'.repeat(40),
    newThumbprint: 'B'.repeat(40),
    newExpiresOn: '2028-11-30T00:00:00Z',
  },
  ...['portal-1', 'portal-2'].map((t, i): FleetRunResult => ({
    target: t,
    runId: `P${i}`,
    outcome: 'awaitingOperator',
    exitCode: 3,
    message: 'In the Power Platform admin center …',
    next: `certrotate resume P${i}`,
    sitePark: { site: t, environment: 'prod', currentThumbprint: 'C'.repeat(40), currentExpiresOn: '2026-12-21' },
  })),
  { target: 'api-2', runId: null, outcome: 'blocked', exitCode: 4, message: 'target "api-2" is locked by run X' },
];

describe('fleet summary', () => {
  it('lists the admin-center steps once and every parked site with its resume command', () => {
    const text = powerPagesInstructions(results)!;
    expect(text.match(/Website Authentication Key → Update key/g)).toHaveLength(1);
    expect(text).toContain('Power Pages: 2 sites wait for Update key.');
    expect(text).toContain('1. site "portal-1" in environment "prod"');
    expect(text).toContain('2. site "portal-2" in environment "prod"');
    expect(text).toContain('then: certrotate resume P1');
    expect(powerPagesInstructions(results.slice(0, 1))).toBeUndefined();
  });

  it('has a row per target with run, new key, expiry and next command, the counts and the exit code', () => {
    const text = fleetSummary(results);
    expect(text).toMatch(/^TARGET +OUTCOME +RUN +NEW KEY +EXPIRES +NEXT$/m);
    expect(text).toMatch(new RegExp(`^api-1 +succeeded +R1 +${'B'.repeat(40)} +2028-11-30 +-$`, 'm'));
    expect(text).toMatch(/^portal-2 +awaitingOperator +P1 +- +- +certrotate resume P1$/m);
    expect(text).toContain('4 target(s): 1 succeeded, 2 awaitingOperator, 1 blocked');
    expect(text).toContain('api-2: target "api-2" is locked by run X');
    expect(text.trimEnd().endsWith('exit 3')).toBe(true);
  });

  it('the JSON document has every field of every run, the counts and the parked sites', () => {
    const doc = fleetDocument(results);
    expect(doc.formatVersion).toBe(1);
    expect(doc.exitCode).toBe(3);
    expect(doc.runs[3]).toEqual({
      target: 'api-2',
      runId: null,
      outcome: 'blocked',
      exitCode: 4,
      oldThumbprint: null,
      newThumbprint: null,
      newExpiresOn: null,
      message: 'target "api-2" is locked by run X',
      next: null,
    });
    expect(doc.counts).toMatchObject({ total: 4, succeeded: 1, awaitingOperator: 2, blocked: 1 });
    expect(doc.powerPages?.sites.map((s) => [s.target, s.runId, s.resume])).toEqual([
      ['portal-1', 'P0', 'certrotate resume P0'],
      ['portal-2', 'P1', 'certrotate resume P1'],
    ]);
    expect(fleetDocument(results.slice(0, 1)).powerPages).toBeNull();
  });

  it('each run that notified lists its deliveries; a run without channels has no `notifications`', () => {
    const notifications = [{ channel: 'teams', event: 'parked', status: 'failed' as const, error: 'HTTP 500' }];
    const doc = fleetDocument([{ ...results[0]!, notifications }, results[1]!]);
    expect(doc.runs[0]!.notifications).toEqual(notifications);
    expect(doc.runs[1]).not.toHaveProperty('notifications');
  });
});
