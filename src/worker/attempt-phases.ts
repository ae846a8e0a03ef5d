/**
 * The phases a worker times for each attempt whose command ran: the
 * executor's four (executor.ts, `AttemptPhases`), then `report`, from the
 * result to the freed slot (the outbox's write, the task-group record's
 * removal). The worker's /metrics sums them
 * (`testudo_worker_attempt_phase_seconds_total`, docs/metrics.md), and
 * `bench makespan` reads those sums.
 */
export const attemptPhaseNames = ['prepare', 'spawn', 'command', 'collect', 'report'] as const;
export type AttemptPhaseName = (typeof attemptPhaseNames)[number];

/** Every phase at 0 s. */
export function zeroPhaseSeconds(): Record<AttemptPhaseName, number> {
  return { prepare: 0, spawn: 0, command: 0, collect: 0, report: 0 };
}

/** Sums over the attempts whose command ran, since the worker started. */
export interface AttemptPhaseTotals {
  readonly attempts: number;
  readonly seconds: Readonly<Record<AttemptPhaseName, number>>;
}
