import type { Capabilities } from '../../model/index.js';
import {
  adaptiveThreshold,
  emptyRecoveryHistory,
  failingNow,
  thresholdConfigOf,
  newBreaker,
  newTaskLadder,
  windowStats,
  type Breaker,
  type BreakerConfig,
  type BreakerStep,
  type PeerStat,
  type RecoveryHistory,
} from '../recovery/index.js';
import { orchestratorFormatVersion, type RunRec, type SnapshotState, type TaskRec, type WorkerRec } from './records.js';
import { meetsRequirements } from './scheduler.js';

/**
 * The worker-health pieces of the orchestrator that need no private state:
 * peers for the adaptive threshold, who is suspect, who else could run a
 * task, the quarantine probe, and the upgrade of version-1 snapshots. Pure
 * and deterministic, like the state machine that calls them.
 */

/** A quarantined worker past its cool-down: half-open, so probe tasks may release it (a failing one re-opens it). */
export function probeAfterQuarantine(b: Breaker, atMs: number, config: BreakerConfig): BreakerStep {
  const reason = `quarantine cool-down of ${config.quarantineCooldownMs / 1000} s elapsed; probing with up to ${config.halfOpenProbes} tasks`;
  return { breaker: { ...b, state: 'half-open', sinceMs: atMs, reason, probeSuccesses: 0 }, transition: { from: b.state, to: 'half-open', atMs, reason } };
}

/** Workers with equal keys are peers for the adaptive threshold: same labels (but the Node version), cpus and tools. */
export function capabilityKeyOf(c: Capabilities): string {
  const labels = Object.entries(c.labels)
    .filter(([k]) => k !== 'node')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([labels, c.cpus, [...c.tools].sort()]);
}


/** Another worker, not yet tried by the task, could take it now or soon. */
export function otherWorkerCanRun(workers: Iterable<WorkerRec>, task: TaskRec, failedOn: string, atMs: number): boolean {
  const tried = new Set([...task.attempts.map((a) => a.workerId), failedOn]);
  for (const w of workers) {
    if (tried.has(w.workerId) || w.state !== 'active' || w.resetting) continue;
    if (w.breaker.state === 'forced-open' || (w.breaker.state === 'open' && atMs < w.breaker.openUntilMs)) continue;
    if (meetsRequirements(w.capabilities, task.template.requirements)) return true;
  }
  return false;
}

/** The worker fails more than its peers: its breaker is not closed, or its failure rate reached its adaptive threshold. */
export function suspect(workers: Iterable<WorkerRec>, worker: WorkerRec, atMs: number, config: BreakerConfig): boolean {
  if (worker.breaker.state !== 'closed' && worker.breaker.state !== 'disabled') return true;
  const stats = windowStats(worker.breaker, atMs, config);
  if (stats.calls < config.minimumCalls) return false;
  return stats.failureRate >= adaptiveThreshold(worker.workerId, peerStats(workers, worker, atMs, config), thresholdConfigOf(config)).threshold;
}

/**
 * A fleet-wide fault: among the active workers of the failing worker's
 * capability class, at least two, and at least `share` of them, are failing
 * now (their last calls all failed; see failingNow). A lone bad worker never
 * makes one, however badly it fails.
 */
export function fleetWideFault(workers: Iterable<WorkerRec>, worker: WorkerRec, share: number): boolean {
  let members = 0;
  let failing = 0;
  for (const w of workers) {
    if (w.capabilityKey !== worker.capabilityKey || (w.state !== 'active' && w !== worker)) continue;
    members++;
    if (failingNow(w.breaker)) failing++;
  }
  return failing >= 2 && failing >= share * members;
}

/** The breaker statistics of the worker and its peers (same capability key; lost peers left out). */
export function peerStats(workers: Iterable<WorkerRec>, worker: WorkerRec, atMs: number, config: BreakerConfig): PeerStat[] {
  const stats: PeerStat[] = [];
  for (const w of workers) {
    if (w.capabilityKey !== worker.capabilityKey || (w.state === 'lost' && w !== worker)) continue;
    const st = windowStats(w.breaker, atMs, config);
    stats.push({ workerId: w.workerId, capabilityKey: w.capabilityKey, failureRate: st.failureRate, calls: st.calls });
  }
  return stats;
}

/**
 * Fills in what version 2 added (breakers, recovery ladders, the recovery
 * history) so a snapshot written by a step-3 node restores: every worker
 * starts closed, every task at the foot of its ladder.
 */
export function upgradeFromVersion1(state: SnapshotState): void {
  const mutable = state as { recovery?: RecoveryHistory; version: number };
  mutable.recovery = emptyRecoveryHistory();
  mutable.version = orchestratorFormatVersion;
  for (const w of state.workers as (WorkerRec & Partial<Pick<WorkerRec, 'breaker' | 'capabilityKey' | 'resetting' | 'resetSinceMs'>>)[]) {
    w.breaker ??= newBreaker(w.registeredAtMs);
    w.capabilityKey ??= capabilityKeyOf(w.capabilities);
    w.resetting ??= false;
    w.resetSinceMs ??= 0;
  }
  for (const run of state.runs as (RunRec & { tasks: TaskRec[] })[]) {
    (run as Partial<RunRec>).degraded ??= false;
    for (const t of run.tasks as (TaskRec & Partial<Pick<TaskRec, 'preferWorker' | 'ladder' | 'decisions' | 'cancelledRuns'>>)[]) {
      t.cancelledRuns ??= 0;
      t.preferWorker ??= '';
      t.ladder ??= newTaskLadder();
      t.decisions ??= [];
    }
  }
}

