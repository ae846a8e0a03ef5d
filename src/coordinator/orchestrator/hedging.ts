/**
 * Hedging at the tail (docs/recovery.md, "Hedging at the tail"). When the
 * queue is empty and a task's one running attempt has run far beyond the
 * task's expected duration, a second attempt of the task (the hedge) starts
 * on an idle, healthy worker. The expected duration is the timing
 * history's, or without one the median of what the same suite's tasks took
 * in the same run (once hedgePeersMin have ended): never a guess. The first
 * verdict wins; the other attempt is
 * cancelled and a result it sends later is late, never counted (invariant 4).
 * A task is hedged at most once. An infrastructure failure or loss of one of
 * the two leaves the task to the other; only when none runs does the task
 * follow the recovery ladder.
 *
 * Pure: the orchestrator calls these with its records, its settings and the
 * command's stamp (no clock, no randomness).
 */
import { meetsRequirements } from './scheduler.js';
import type { BreakerConfig } from '../recovery/index.js';
import type { AttemptRec, TaskRec, WorkerRec } from './records.js';
import type { Assignment } from './commands.js';

/** Verdicts of a suite's tasks a run must have counted before their median stands in for a missing timing history. */
export const hedgePeersMin = 5;

/** Hedges one scheduling pass proposes, at most. */
export const hedgesPerPassMax = 16;

type HedgeSettings = Pick<BreakerConfig, 'adaptiveRecovery' | 'hedgeAfterFactor' | 'hedgeMinMs'>;

export function hedgingOn(settings: HedgeSettings): boolean {
  return settings.adaptiveRecovery && settings.hedgeAfterFactor > 0;
}

/** How long an attempt of a task expected to take `expectedMs` runs before it is a straggler. */
export function hedgeAfterMs(expectedMs: number, settings: HedgeSettings): number {
  return Math.max(expectedMs * settings.hedgeAfterFactor, expectedMs + settings.hedgeMinMs);
}

/** The task's one running attempt when the task may be hedged (running, not exclusive, never hedged), else undefined. */
export function hedgeable(task: TaskRec): AttemptRec | undefined {
  if (task.state !== 'running' || task.template.exclusive) return undefined;
  const last = task.attempts[task.attempts.length - 1];
  if (last === undefined || last.state !== 'running') return undefined;
  return task.attempts.some((a) => a.hedge === true) ? undefined : last;
}

/** The task's other running attempt, when `attemptId` is one of a hedged pair and its partner still runs. */
export function liveSibling(task: TaskRec, attemptId: string): AttemptRec | undefined {
  const n = task.attempts.length;
  if (n < 2 || task.attempts[n - 1]!.hedge !== true) return undefined;
  const pair = [task.attempts[n - 2]!, task.attempts[n - 1]!];
  if (!pair.some((a) => a.attemptId === attemptId)) return undefined;
  return pair.find((a) => a.attemptId !== attemptId && a.state === 'running');
}

/** Whether `worker` may take a hedge of `task`, whose straggling attempt is `straggler`. */
export function mayTakeHedge(task: TaskRec, straggler: AttemptRec, worker: WorkerRec): boolean {
  return (
    worker.workerId !== straggler.workerId &&
    worker.state === 'active' &&
    !worker.resetting &&
    worker.running.length < worker.slots &&
    !task.avoidWorkers.includes(worker.workerId) &&
    meetsRequirements(worker.capabilities, task.template.requirements)
  );
}

export interface Straggler {
  readonly task: TaskRec;
  readonly attempt: AttemptRec;
  /** How far it is behind: expected durations it has run, or on a slow worker its relative pace. Orders the hedges. */
  readonly overrun: number;
  /** Why it is hedged, kept on the hedge (`runs show --explain`). */
  readonly because: string;
}

/**
 * The hedges to propose: stragglers (most overrun first) each matched to the
 * idle worker with the most free slots that may take it. `idle` are the
 * workers in full service with a free slot; each hedge takes one of its slots.
 */
export function planHedges(stragglers: readonly Straggler[], idle: readonly WorkerRec[]): Assignment[] {
  const free = new Map(idle.map((w) => [w.workerId, w.slots - w.running.length]));
  const order = [...stragglers].sort((a, b) => b.overrun - a.overrun || a.task.seq - b.task.seq);
  const plan: Assignment[] = [];
  for (const s of order) {
    if (plan.length >= hedgesPerPassMax) break;
    let best: WorkerRec | undefined;
    for (const w of idle) {
      const left = free.get(w.workerId)!;
      if (left <= 0 || !mayTakeHedge(s.task, s.attempt, w)) continue;
      if (best === undefined || left > free.get(best.workerId)!) best = w;
    }
    if (best === undefined) continue;
    free.set(best.workerId, free.get(best.workerId)! - 1);
    plan.push({ taskId: s.task.taskId, workerId: best.workerId });
  }
  return plan;
}
