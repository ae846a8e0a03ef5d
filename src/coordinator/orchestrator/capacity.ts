/**
 * A worker's capacity: what the scheduler may do with it at a given time,
 * and why. The one place where the recovery rules that shape capacity meet
 * (breaker state, the ejection cap, pacing, outlier weighting, slowness,
 * prefetch); the assign command (mayAssign in attempts.ts), the scheduler's view
 * (schedulableWorkers) and `workers list` (workerService) all read it.
 * Pure: it reads the fleet it is given and applies no transition.
 */
import type { BreakerConfig } from '../recovery/index.js';
import {
  degradedSlots,
  ejectedWorkers,
  failingNowCalls,
  isOutlier,
  outlierFailuresMin,
  paceSlots,
  probesLeft,
  quarantineCooldownElapsed,
  slownessOf,
  slowReason,
  windowStats,
  workerPace,
  type Slowness,
} from '../recovery/index.js';
import type { WorkerServiceView } from '../../model/index.js';
import type { AttemptRec, WorkerRec } from './records.js';
import { prefetchOf, type SchedulableWorker } from './scheduler.js';
import { peerStats } from './worker-health.js';

/** What capacity reads from the orchestrator. */
export interface Fleet {
  workers(): Iterable<WorkerRec>;
  settings(): BreakerConfig;
  attempt(attemptId: string): AttemptRec | undefined;
}

/** A worker's service with the numbers the scheduler acts on. */
export interface WorkerCapacity extends WorkerServiceView {
  /** Attempts that may start now beyond the running ones (slots aside); Infinity when only its slots bound it. */
  readonly startsLeft: number;
  /** Attempts it may hold beyond its slots (prefetch). */
  readonly prefetch: number;
  /** A slow worker's pace ÷ its peers' (slowness.ts); absent for every other service. */
  readonly relativePace?: number;
}

/**
 * What the scheduler may do with the worker at `nowMs`, and why: the one
 * place where the recovery rules that shape a worker's capacity meet
 * (breaker state, the ejection cap, pacing, outlier weighting, prefetch).
 * Read-only: a breaker whose open wait or quarantine cool-down is over
 * reads as the half-open breaker the next assignment turns it into
 * (mayAssign). `startsLeft`: attempts that may start now beyond the running
 * ones, slots aside; `prefetch`: attempts it may hold beyond its slots.
 *
 * `forSlot`: the caller only asks whether one more attempt may start on a
 * worker with a free slot (the assign command). Slowness changes only the
 * prefetch and the service's name, never that answer, so its pass over the
 * peers is skipped then.
 */
export function capacityOf(fleet: Fleet, w: WorkerRec, nowMs: number, forSlot = false): WorkerCapacity {
  const settings = fleet.settings();
  const out = (reason: string): WorkerCapacity => ({ service: 'out', reason, startsLeft: 0, prefetch: 0 });
  if (w.state !== 'active') return out(w.state);
  if (w.resetting) return out('resetting (recovery level 3)');
  const b = w.breaker;
  const running = w.running.length;
  // Pacing (a worker failing now): at most one attempt at a time, once its pace allows it, in any breaker state.
  const pace = paceSlots(b, nowMs, running, settings);
  const oneAtATime = (reason: string): WorkerCapacity => ({ service: 'one-at-a-time', reason, startsLeft: Math.min(pace, degradedSlots - running), prefetch: 0 });
  const probing = (reason: string, probesLeft: number): WorkerCapacity => ({ service: 'probing', reason, startsLeft: Math.min(pace, probesLeft), prefetch: 0 });
  switch (b.state) {
    case 'forced-open':
      return quarantineCooldownElapsed(b, nowMs, settings)
        ? probing(`quarantined; cool-down over: up to ${settings.halfOpenProbes} probe attempts`, settings.halfOpenProbes)
        : out(`quarantined: ${b.reason}`);
    case 'open':
      if (nowMs >= b.openUntilMs) return probing(`open wait over: up to ${settings.halfOpenProbes} probe attempts`, settings.halfOpenProbes);
      return ejected(fleet, w)
        ? out(`ejected until ${b.openUntilMs} (${b.reason})`)
        : oneAtATime(`open past the ejection cap (maxEjectedShare ${settings.maxEjectedShare}): ${b.reason}`);
    case 'half-open':
      return probing(`half-open: ${b.probeSuccesses} of ${settings.halfOpenProbes} probes passed`, probesLeft(b, probesRunning(fleet, w), settings));
    case 'closed':
    case 'disabled':
      break;
  }
  if (paceSlots(b, nowMs, 0, settings) !== Number.POSITIVE_INFINITY) {
    return { service: 'paced', reason: `its last ${failingNowCalls} attempts failed: one at a time, ${settings.failingPaceMs} ms after the last failure`, startsLeft: pace, prefetch: 0 };
  }
  if (outlier(fleet, w, nowMs)) {
    const stats = windowStats(b, nowMs, settings);
    return oneAtATime(`outlier: ${stats.failures} of ${stats.calls} attempts failed, at least ${settings.outlierMargin} above its peers' median`);
  }
  const slow = forSlot && running < w.slots ? null : slownessOfWorker(fleet, w, nowMs);
  if (slow !== null) {
    return { service: 'slow', reason: slowReason(slow, settings.slowPaceFactor), startsLeft: Number.POSITIVE_INFINITY, prefetch: 0, relativePace: slow.relative };
  }
  // Prefetch only on a closed breaker: recovery sees a sick worker's slots as without it (docs/orchestrator.md, "Prefetch").
  return { service: 'full', reason: '', startsLeft: Number.POSITIVE_INFINITY, prefetch: b.state === 'closed' ? prefetchOf(w.slots, settings.prefetchPerSlot) : 0 };
}

/** Whether the worker's open breaker takes it out of service, or the ejection cap keeps it in at a lower weight. */
function ejected(fleet: Fleet, worker: WorkerRec): boolean {
  const active = [...fleet.workers()].filter((w) => w.state === 'active');
  const candidates = active.map((w) => ({ workerId: w.workerId, capabilityKey: w.capabilityKey, slots: w.slots, breakerState: w.breaker.state, sinceMs: w.breaker.sinceMs }));
  return ejectedWorkers(candidates, worker.capabilityKey, fleet.settings().maxEjectedShare).has(worker.workerId);
}

/** A closed worker failing clearly more than its peers: it runs at a lower weight (isOutlier). */
function outlier(fleet: Fleet, worker: WorkerRec, atMs: number): boolean {
  const settings = fleet.settings();
  if (!settings.adaptiveRecovery || settings.outlierMargin === 0 || worker.breaker.state !== 'closed') return false;
  const stats = windowStats(worker.breaker, atMs, settings);
  // Most workers have no failures: settle them before the pass over the peers.
  if (stats.failures < outlierFailuresMin) return false;
  const peerRates = peerStats(fleet.workers(), worker, atMs, settings)
    .filter((p) => p.workerId !== worker.workerId && p.calls > 0)
    .map((p) => p.failureRate);
  return isOutlier(stats, peerRates, settings.outlierMargin);
}

/**
 * The worker's slowness at `nowMs` (recovery/slowness.ts): its recent pace
 * against the median pace of the other active workers of its capability
 * class. Only a closed breaker with adaptive recovery on: an open or paced
 * worker is already weighed by its failures, and the baseline weighs nobody.
 */
export function slownessOfWorker(fleet: Fleet, worker: WorkerRec, nowMs: number): Slowness | null {
  const settings = fleet.settings();
  if (!settings.adaptiveRecovery || settings.slowPaceFactor === 0 || worker.breaker.state !== 'closed') return null;
  // Most workers have no pace yet or are not slow: settle them before the pass over the peers.
  const own = workerPace(worker.breaker, nowMs);
  if (own === null) return null;
  const peers: number[] = [];
  for (const w of fleet.workers()) {
    if (w === worker || w.state !== 'active' || w.capabilityKey !== worker.capabilityKey) continue;
    const pace = workerPace(w.breaker, nowMs);
    if (pace !== null) peers.push(pace.pace);
  }
  return slownessOf(own, peers, settings.slowPaceFactor);
}

/** Attempts running on the worker that started while its breaker is half-open (the probes). */
function probesRunning(fleet: Fleet, worker: WorkerRec): number {
  if (worker.breaker.state !== 'half-open') return 0;
  let n = 0;
  for (const id of worker.running) {
    const attempt = fleet.attempt(id);
    if ((attempt?.assignedAtMs ?? 0) >= worker.breaker.sinceMs) n++;
  }
  return n;
}

/**
 * Workers that may take work at `nowMs` (every one not out of service, and
 * connected), with the attempts each may start (free slots, within its
 * capacity) and may hold beyond its slots (prefetch). For the leader's
 * scheduler: no transition is applied here.
 */
export function schedulableWorkersOf(fleet: Fleet, nowMs: number, connected: (workerId: string) => boolean): SchedulableWorker[] {
  const out: SchedulableWorker[] = [];
  for (const w of fleet.workers()) {
    if (!connected(w.workerId)) continue;
    const capacity = capacityOf(fleet, w, nowMs);
    if (capacity.service === 'out') continue;
    // A busy worker is listed too (0 free slots): the planner waits for it rather than retrying where a task failed.
    const freeSlots = Math.max(0, Math.min(w.slots - w.running.length, capacity.startsLeft));
    const prefetchSlots = capacity.prefetch === 0 ? 0 : Math.max(0, w.slots + capacity.prefetch - Math.max(w.running.length, w.slots));
    out.push({
      workerId: w.workerId,
      capabilities: w.capabilities,
      freeSlots,
      prefetchSlots,
      slots: w.slots,
      ...(capacity.relativePace === undefined ? {} : { relativePace: capacity.relativePace }),
    });
  }
  return out;
}
