import { assert } from '../../common/assert.js';
import type { Capabilities, Requirements } from '../../model/index.js';
import { tailPrefersFaster } from '../recovery/index.js';
import type { Assignment } from './commands.js';

/**
 * The scheduler: a pure function from a view of the state to an assignment
 * plan. It runs on the leader only; the plan goes through the log as one
 * `assign` command, and apply checks every assignment again (a plan made from
 * a state that moved on is trimmed, never wrong).
 *
 * Order: the queue comes sorted by priority (high first), then expected
 * duration (long first: longest-processing-time first keeps the makespan
 * close to its lower bound), then submission order. Each task goes to the
 * eligible worker with the most free slots, so load spreads.
 *
 * Prefetch: while the queue is long (more tasks queued than the fleet has
 * slots, beyond those this plan fills), a task that finds no free slot may go
 * to a healthy worker's prefetch room: the worker holds the committed order
 * and starts it itself when a slot frees, with no round trip to the leader.
 * At a run's tail nothing is prefetched, so no task waits behind a long one
 * on one worker while another worker idles (docs/orchestrator.md, "Prefetch").
 *
 * Slow workers: at a run's tail a task skips a slow worker's free slot when
 * a faster eligible worker's slot will free in time to finish it sooner
 * (recovery/slowness.ts, tailPrefersFaster); a task only slow workers can
 * run still goes to them.
 */

export interface SchedulableTask {
  readonly taskId: string;
  readonly runId: string;
  readonly requirements: Requirements;
  readonly exclusive: boolean;
  /** Not before this time (retry backoff). */
  readonly notBeforeMs: number;
  /** Workers to avoid (where earlier attempts failed), if another one can take it. */
  readonly avoidWorkers: readonly string[];
  /** Run it here if this worker can take it now (recovery level 1: retry on the same worker); '' for none. */
  readonly preferWorker: string;
}

export interface SchedulableWorker {
  readonly workerId: string;
  readonly capabilities: Capabilities;
  readonly freeSlots: number;
  /** Attempts it may hold beyond its slots (prefetch; 0 when its breaker is not closed, it is paced or resetting); absent: 0. */
  readonly prefetchSlots?: number;
  /** Its slots in all (their sum over the fleet keeps a run's tail out of prefetch); absent: 0. */
  readonly slots?: number;
  /** A slow worker's pace ÷ its peers' (≥ slowPaceFactor); absent: it runs at full pace. */
  readonly relativePace?: number;
}

export interface RunLoad {
  /** Parallel-safe tasks of the run not yet ended. */
  readonly parallelOpen: number;
  /** Attempts of the run running now. */
  readonly running: number;
}

export interface ScheduleInput {
  /** Queued tasks, in scheduling order. */
  readonly queue: Iterable<SchedulableTask>;
  /** Workers that may take work now (active, connected), with free slots. */
  readonly workers: readonly SchedulableWorker[];
  readonly runLoad: (runId: string) => RunLoad;
  readonly nowMs: number;
  readonly limits: ScheduleLimits;
  /** Tasks queued in all (in backoff too); absent: nothing is prefetched. */
  readonly queuedTotal?: number;
}

export interface ScheduleLimits {
  /** Assignments in one plan (one log entry). */
  readonly batchMax: number;
  /** Queued tasks looked at in one plan. */
  readonly scanMax: number;
}

export const scheduleLimitsDefault: ScheduleLimits = { batchMax: 512, scanMax: 20_000 };

/** Whether a worker with these capabilities may run a task with these requirements. */
export function meetsRequirements(capabilities: Capabilities, requirements: Requirements): boolean {
  if (capabilities.cpus < requirements.cpus) return false;
  if (capabilities.memoryMb < requirements.memoryMb) return false;
  for (const [label, value] of Object.entries(requirements.labels)) {
    if (capabilities.labels[label] !== value) return false;
  }
  for (const tool of requirements.tools) {
    if (!capabilities.tools.includes(tool)) return false;
  }
  return true;
}

/** Attempts a worker of `slots` slots may hold beyond them at `perSlot` (BreakerConfig.prefetchPerSlot). */
export function prefetchOf(slots: number, perSlot: number): number {
  return Math.ceil(Math.max(0, slots) * Math.max(0, perSlot));
}

/** Slots per worker (those with some), and their sum. */
class SlotPool {
  readonly byWorker = new Map<string, number>();
  total = 0;

  constructor(workers: readonly SchedulableWorker[], slotsOf: (worker: SchedulableWorker) => number) {
    for (const worker of workers) {
      const n = slotsOf(worker);
      if (n <= 0) continue;
      this.byWorker.set(worker.workerId, n);
      this.total += n;
    }
  }

  take(workerId: string): void {
    const n = this.byWorker.get(workerId) ?? 0;
    assert(n > 0 && this.total > 0, `a plan took a slot ${workerId} does not have`);
    this.byWorker.set(workerId, n - 1);
    this.total--;
  }
}

/**
 * Tasks a plan may prefetch: those queued beyond the free slots and one
 * slot's worth for every slot of the fleet. What stays queued at the leader
 * then covers every slot once more, so prefetched orders never decide a
 * run's tail.
 */
function prefetchBudgetOf(input: ScheduleInput, freeTotal: number): number {
  if (input.queuedTotal === undefined) return 0;
  let fleetSlots = 0;
  for (const worker of input.workers) fleetSlots += worker.slots ?? 0;
  return Math.max(0, input.queuedTotal - freeTotal - fleetSlots);
}

export function planAssignments(input: ScheduleInput): Assignment[] {
  const free = new SlotPool(input.workers, (w) => w.freeSlots);
  const ahead = new SlotPool(input.workers, (w) => w.prefetchSlots ?? 0);
  let budget = ahead.total === 0 ? 0 : prefetchBudgetOf(input, free.total);
  const plan: Assignment[] = [];
  // Runs' load as this plan changes it.
  const extraRunning = new Map<string, number>();
  const matchCache = new Map<string, SchedulableWorker[]>();
  const queuedTotal = input.queuedTotal;
  const anySlow = input.workers.some((w) => w.relativePace !== undefined);
  let scanned = 0;
  for (const task of input.queue) {
    const prefetching = budget > 0 && ahead.total > 0;
    if (plan.length >= input.limits.batchMax || (free.total === 0 && !prefetching) || scanned >= input.limits.scanMax) break;
    scanned++;
    if (task.notBeforeMs > input.nowMs) continue;
    if (!exclusivityAllows(task, input.runLoad(task.runId), extraRunning.get(task.runId) ?? 0)) continue;
    const eligible = eligibleWorkers(task.requirements, input.workers, matchCache);
    const candidates = anySlow && queuedTotal !== undefined ? withoutSlowAtTail(eligible, queuedTotal - plan.length, free.byWorker) : eligible;
    let chosen = free.total > 0 ? pickFree(task, candidates, free.byWorker) : null;
    if (chosen !== null) free.take(chosen);
    else if (prefetching && !task.exclusive) {
      chosen = pickWorker(candidates, ahead.byWorker, task.avoidWorkers);
      if (chosen !== null) {
        ahead.take(chosen);
        budget--;
      }
    }
    if (chosen === null) continue;
    plan.push({ taskId: task.taskId, workerId: chosen });
    extraRunning.set(task.runId, (extraRunning.get(task.runId) ?? 0) + 1);
  }
  return plan;
}

/**
 * The candidates without the slow workers a task at the tail should skip:
 * with `queuedLeft` tasks still queued, a faster candidate's slot frees in
 * time to finish it sooner (tailPrefersFaster). A slow worker with nothing
 * running (every slot free, `free` counting this plan) still takes one: its
 * pace must be able to recover once its fault has passed, and a hedge
 * covers that one attempt if it is still slow. When no candidate is fast,
 * every candidate stays: the slow ones are all the task has.
 */
function withoutSlowAtTail(candidates: readonly SchedulableWorker[], queuedLeft: number, free: ReadonlyMap<string, number>): readonly SchedulableWorker[] {
  let fasterSlots = 0;
  for (const w of candidates) if (w.relativePace === undefined) fasterSlots += w.slots ?? 0;
  if (fasterSlots === 0) return candidates;
  const idle = (w: SchedulableWorker): boolean => w.slots !== undefined && (free.get(w.workerId) ?? 0) >= w.slots;
  return candidates.filter((w) => w.relativePace === undefined || idle(w) || !tailPrefersFaster(queuedLeft, fasterSlots, w.relativePace));
}

/** A free slot for the task: its preferred worker's when it has one, else the best candidate's. */
function pickFree(task: SchedulableTask, candidates: readonly SchedulableWorker[], free: ReadonlyMap<string, number>): string | null {
  const preferred = task.preferWorker !== '' && (free.get(task.preferWorker) ?? 0) > 0 && candidates.some((w) => w.workerId === task.preferWorker);
  return preferred ? task.preferWorker : pickWorker(candidates, free, task.avoidWorkers);
}

/**
 * An exclusive task runs alone: after every parallel-safe task of its run has
 * ended and while nothing else of the run runs. A parallel-safe task may not
 * start while an exclusive one of its run runs (which cannot happen while
 * parallel-safe ones are open, so this needs no extra state).
 */
function exclusivityAllows(task: SchedulableTask, load: RunLoad, plannedForRun: number): boolean {
  if (!task.exclusive) return true;
  return load.parallelOpen === 0 && load.running === 0 && plannedForRun === 0;
}

function eligibleWorkers(requirements: Requirements, workers: readonly SchedulableWorker[], cache: Map<string, SchedulableWorker[]>): SchedulableWorker[] {
  const key = requirementsKey(requirements);
  let list = cache.get(key);
  if (list === undefined) {
    list = workers.filter((worker) => meetsRequirements(worker.capabilities, requirements));
    cache.set(key, list);
  }
  return list;
}

function requirementsKey(requirements: Requirements): string {
  const labels = Object.entries(requirements.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([labels, requirements.cpus, requirements.memoryMb, [...requirements.tools].sort()]);
}

/**
 * The candidate with the most free slots (ties: the lower id). A worker to
 * avoid is taken only when no other candidate could ever take the task: when
 * others exist but are busy, the task waits for them.
 */
function pickWorker(candidates: readonly SchedulableWorker[], free: ReadonlyMap<string, number>, avoid: readonly string[]): string | null {
  let best: string | null = null;
  let bestFree = 0;
  let fallback: string | null = null;
  let fallbackFree = 0;
  let othersExist = false;
  for (const worker of candidates) {
    const avoided = avoid.includes(worker.workerId);
    if (!avoided) othersExist = true;
    const slots = free.get(worker.workerId) ?? 0;
    if (slots <= 0) continue;
    if (avoided) {
      if (slots > fallbackFree || (slots === fallbackFree && fallback !== null && worker.workerId < fallback)) {
        fallback = worker.workerId;
        fallbackFree = slots;
      }
      continue;
    }
    if (slots > bestFree || (slots === bestFree && best !== null && worker.workerId < best)) {
      best = worker.workerId;
      bestFree = slots;
    }
  }
  return best ?? (othersExist ? null : fallback);
}
