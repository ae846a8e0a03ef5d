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
 * The pure rules come first; then the stateful half over the orchestrator's
 * Machine (machine.ts): the hedge command, stragglers and their expected
 * durations, the leader's candidates, and a hedged pair's loser superseded.
 * No clock, no randomness: every time is the command's stamp.
 */
import { ExtensionCommandError } from '../kv-machine.js';
import { slowHedgeDue, slowReason, type BreakerConfig } from '../recovery/index.js';
import { releaseAttempt, startAttempt } from './attempts.js';
import { capacityOf, slownessOfWorker } from './capacity.js';
import type { Assignment } from './commands.js';
import { fileTimingKey } from './history.js';
import { queuedCount, runOf, taskOfAttempt, timingKeyOfTask, type AssignOutcome, type Machine } from './machine.js';
import type { AttemptRec, TaskRec, WorkerRec } from './records.js';
import { meetsRequirements } from './scheduler.js';

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

// ------------------------------------------ the stateful half, over the Machine

/**
 * Starts the hedges the leader planned (hedgeCandidates) that still hold
 * at `atMs`: the task's one attempt has straggled past hedgeAfterMs and
 * the worker is idle, in full service, and may run the task. Safety does
 * not depend on the leader's plan: anything else is skipped.
 */
export function hedge(m: Machine, assignments: readonly Assignment[], atMs: number): AssignOutcome {
  if (!Array.isArray(assignments)) throw new ExtensionCommandError('hedge: assignments must be an array');
  const assigned: { attemptId: string; taskId: string; workerId: string }[] = [];
  let skipped = 0;
  for (const a of assignments) {
    const task = typeof a?.taskId === 'string' ? m.tasks.get(a.taskId) : undefined;
    const worker = typeof a?.workerId === 'string' ? m.workers.get(a.workerId) : undefined;
    const straggler = task === undefined ? undefined : stragglerOf(m, task, atMs, new Map());
    if (task === undefined || worker === undefined || straggler === undefined || !mayTakeHedge(task, straggler.attempt, worker) || !fullService(m, worker, atMs)) {
      skipped++;
      continue;
    }
    assigned.push(startAttempt(m, task, worker, atMs, straggler.because));
  }
  return { assigned, skipped };
}

/**
 * The task's running attempt when it straggles past its hedge point at
 * `atMs` and hedging is on; else undefined. `peers` caches the run's
 * per-suite medians for one pass.
 */
function stragglerOf(m: Machine, task: TaskRec, atMs: number, peers: Map<string, number | null>): Straggler | undefined {
  if (!hedgingOn(m.breakerSettings)) return undefined;
  const attempt = hedgeable(task);
  if (attempt === undefined) return undefined;
  const ranMs = atMs - attempt.assignedAtMs;
  const expected = knownExpectedMs(m, task) ?? peerExpectedMs(m, task, peers);
  if (expected !== null && ranMs >= hedgeAfterMs(expected, m.breakerSettings)) {
    return { task, attempt, overrun: ranMs / Math.max(1, expected), because: `attempt ${attempt.number} had run ${ranMs} ms of an expected ${expected} ms` };
  }
  // On a slow worker: hedged once a faster worker is predicted to finish first (slowness.ts).
  const worker = m.workers.get(attempt.workerId);
  const slow = worker === undefined ? null : slownessOfWorker(m.fleet, worker, atMs);
  if (slow === null || !slowHedgeDue(ranMs, task.expectedMs, slow, m.breakerSettings.hedgeMinMs)) return undefined;
  return {
    task,
    attempt,
    overrun: slow.relative,
    because: `attempt ${attempt.number} runs on ${attempt.workerId}, ${slowReason(slow, m.breakerSettings.slowPaceFactor)}; a faster worker should finish first`,
  };
}

/** The task's expected duration when the timing history knows it (every file of it, or the task), else null: no hedge on a guess. */
function knownExpectedMs(m: Machine, task: TaskRec): number | null {
  if (task.files.length === 0) return m.timings.get(timingKeyOfTask(task.template))?.ms ?? null;
  let total = 0;
  for (const file of task.files) {
    const known = m.timings.get(fileTimingKey(task.template.suite, file));
    if (known === undefined) return null;
    total += known.ms;
  }
  return total;
}

/**
 * Without a history, what the task's peers took: the median duration of
 * the verdicts counted so far for tasks of the same suite in the same run,
 * once there are at least hedgePeersMin of them; else null.
 */
function peerExpectedMs(m: Machine, task: TaskRec, cache: Map<string, number | null>): number | null {
  const key = `${task.runId}\u0000${task.template.suite}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const durations: number[] = [];
  for (const id of runOf(m, task.runId).taskIds) {
    const peer = m.tasks.get(id)!;
    if (peer.template.suite !== task.template.suite || (peer.state !== 'passed' && peer.state !== 'failed')) continue;
    const verdict = peer.attempts.findLast((a) => a.result?.outcome === peer.state)?.result;
    if (verdict !== undefined) durations.push(Math.max(0, verdict.finishedAtMs - verdict.startedAtMs));
  }
  const median = durations.length < hedgePeersMin ? null : durations.sort((a, b) => a - b)[(durations.length - 1) >> 1]!;
  cache.set(key, median);
  return median;
}

/** A worker the scheduler uses at full weight: breaker closed, not paced, not an outlier. */
function fullService(m: Machine, worker: WorkerRec, atMs: number): boolean {
  return capacityOf(m.fleet, worker, atMs).service === 'full';
}

/**
 * Hedges worth proposing at `nowMs` (read-only, for the leader's
 * scheduler): none while any task is queued (hedging is for the tail);
 * else the stragglers matched to idle connected workers in full service.
 */
export function hedgeCandidates(m: Machine, nowMs: number, connected: (workerId: string) => boolean = () => true): Assignment[] {
  if (!hedgingOn(m.breakerSettings) || queuedCount(m) > 0) return [];
  const idle = [...m.workers.values()].filter((w) => w.state === 'active' && w.running.length < w.slots && connected(w.workerId) && fullService(m, w, nowMs));
  if (idle.length === 0) return [];
  const stragglers: Straggler[] = [];
  const peers = new Map<string, number | null>();
  for (const w of m.workers.values()) {
    for (const attemptId of w.running) {
      const s = stragglerOf(m, taskOfAttempt(m, attemptId), nowMs, peers);
      if (s !== undefined && s.attempt.attemptId === attemptId) stragglers.push(s);
    }
  }
  return planHedges(stragglers, idle);
}

/**
 * A hedged task ended through `winner`: its other attempt, if it still
 * runs, is cancelled (released here; the leader tells its worker to stop).
 */
export function supersedeSibling(m: Machine, task: TaskRec, winner: AttemptRec): void {
  const sibling = liveSibling(task, winner.attemptId);
  if (sibling === undefined) return;
  sibling.state = 'cancelled';
  sibling.reason = `superseded: attempt ${winner.number} ended ${task.state} first`;
  releaseAttempt(m, task, sibling);
  m.events.push({ kind: 'hedge', step: winner.hedge === true ? 'won' : 'lost', taskId: task.taskId });
  m.events.push({ kind: 'cancel-attempt', workerId: sibling.workerId, attemptId: sibling.attemptId, reason: sibling.reason });
}
