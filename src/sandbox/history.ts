/**
 * The sandbox's time-ordered event history (DESIGN §6 `GET /history`), so tests can check invariants such as
 * "never keyless" over time rather than only at the end.
 */
import { isoTime, type SandboxClock } from './clock.js';

/** One key credential as history records it: ids, thumbprints and times only. */
export interface HistoryKey {
  keyId: string;
  thumbprint: string;
  start: string;
  end: string;
}

export type HistoryEvent =
  | { time: string; kind: 'appKeys'; appId: string; keys: HistoryKey[] }
  | { time: string; kind: 'serverKey'; server: string; thumbprint: string }
  | { time: string; kind: 'siteKey'; websiteId: string; thumbprint: string }
  | { time: string; kind: 'token'; appId: string; thumbprint: string; resource: string };

/** Distributes Omit over the union so each event kind keeps its own fields. */
export type NewHistoryEvent = HistoryEvent extends infer E ? (E extends HistoryEvent ? Omit<E, 'time'> : never) : never;

export interface History {
  record(event: NewHistoryEvent): void;
  events(): HistoryEvent[];
}

export function createHistory(clock: SandboxClock): History {
  const list: HistoryEvent[] = [];
  return {
    record(event) {
      list.push({ time: isoTime(clock.now()), ...event } as HistoryEvent);
    },
    events: () => list.slice(),
  };
}
