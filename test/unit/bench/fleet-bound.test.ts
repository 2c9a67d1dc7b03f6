import { describe, expect, it } from 'vitest';
// @ts-expect-error -- bench/ is plain JavaScript without declarations
import { fleetLowerBound } from '../../../bench/fleet-bound.js';

const kv = (demand: number) => ({ name: 'kv creates', demand, limit: 20, windowMs: 10_000 });
const graphApp = (demand: number) => ({ name: 'graph app writes', demand, limit: 3000, windowMs: 150_000 });

describe('fleetLowerBound', () => {
  it('adds (ceil(n / limit) - 1) windows of the binding budget to one critical path (500 creates at 20 / 10 s)', () => {
    const b = fleetLowerBound({ criticalPathMs: 9_500, budgets: [kv(500), graphApp(1000)] });
    expect(b.terms).toEqual([
      { name: 'critical path', ms: 9_500, windows: 0 },
      { name: 'kv creates', ms: 9_500 + 24 * 10_000, windows: 24 },
      { name: 'graph app writes', ms: 9_500, windows: 0 },
    ]);
    expect(b).toMatchObject({ boundMs: 249_500, binding: 'kv creates' });
  });

  it('counts a partly used last window as a whole one, and a first burst as free', () => {
    expect(fleetLowerBound({ criticalPathMs: 1000, budgets: [kv(20)] }).boundMs).toBe(1000);
    expect(fleetLowerBound({ criticalPathMs: 1000, budgets: [kv(21)] }).boundMs).toBe(11_000);
    expect(fleetLowerBound({ criticalPathMs: 1000, budgets: [kv(50)] }).boundMs).toBe(21_000);
  });

  it('is the critical path when no budget binds, or nothing is spent', () => {
    const b = fleetLowerBound({ criticalPathMs: 8_000, budgets: [kv(0), graphApp(400)] });
    expect(b).toMatchObject({ boundMs: 8_000, binding: 'critical path' });
  });

  it('lets Graph bind once the writes pass its window', () => {
    const b = fleetLowerBound({ criticalPathMs: 8_000, budgets: [kv(20), graphApp(6001)] });
    expect(b).toMatchObject({ boundMs: 8_000 + 2 * 150_000, binding: 'graph app writes' });
  });

  it('refuses a budget without a limit or a window, naming it', () => {
    expect(() => fleetLowerBound({ criticalPathMs: 1, budgets: [{ ...kv(5), limit: 0 }] })).toThrow(/kv creates/);
    expect(() => fleetLowerBound({ criticalPathMs: -1, budgets: [] })).toThrow(/criticalPathMs/);
  });
});
