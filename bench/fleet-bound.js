// The lower bound of a fleet rotation's wall time (bench/README.md, "fleet-rotation N"): pure arithmetic, unit-tested
// in test/unit/bench/fleet-bound.test.ts.
//
// One rotation cannot take less than its critical path: its top-level requests one after another, each at least the
// injected latency, plus the waits it sleeps on purpose (create polls, consistency reads, propagation). A budget of
// `limit` requests in any `windowMs` (the sandbox's sliding window) admits request limit+1 no earlier than one window
// after request 1, so n requests span at least (ceil(n / limit) - 1) windows. Every rotation spends its budgeted
// requests after the part of its path before them and needs the part after them, so the fleet cannot end before
// critical path + (ceil(n / limit) - 1) x window. The bound is the largest of these terms.

/**
 * @param {object} o
 * @param {number} o.criticalPathMs one rotation's critical path: top-level requests x latency + deliberate waits
 * @param {{name: string, demand: number, limit: number, windowMs: number}[]} o.budgets what the fleet spends of each
 *   budget (e.g. 500 certificate creates of one vault's 20 per 10 s)
 * @returns {{boundMs: number, binding: string, terms: {name: string, ms: number, windows: number}[]}}
 */
export function fleetLowerBound({ criticalPathMs, budgets }) {
  if (!(criticalPathMs >= 0)) throw new Error(`criticalPathMs must be a number >= 0 (got ${criticalPathMs})`);
  const terms = [{ name: 'critical path', ms: criticalPathMs, windows: 0 }];
  for (const b of budgets) {
    if (!(b.limit > 0) || !(b.windowMs > 0) || !(b.demand >= 0)) {
      throw new Error(`budget ${b.name}: expected demand >= 0, limit > 0 and windowMs > 0 (got ${JSON.stringify(b)})`);
    }
    const windows = b.demand === 0 ? 0 : Math.ceil(b.demand / b.limit) - 1;
    terms.push({ name: b.name, ms: criticalPathMs + windows * b.windowMs, windows });
  }
  const top = terms.reduce((a, t) => (t.ms > a.ms ? t : a));
  return { boundMs: top.ms, binding: top.name, terms };
}
