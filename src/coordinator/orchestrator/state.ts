import type { AttemptOrder, LiveTaskView, RunSubmission, RunSummary, RunView, WorkerView, WorkerServiceView } from '../../model/index.js';
import { SnapshotDecodeError } from '../codec.js';
import type { MachineExtension } from '../kv-machine.js';
import { defaultBreakerConfig, type BreakerConfig, type FaultClass } from '../recovery/index.js';
import { assign } from './attempts.js';
import { capacityOf, schedulableWorkersOf } from './capacity.js';
import { decodeOrchCommand, type Assignment, type OrchCommand, type OrchCommandType, type OrchResults } from './commands.js';
import { hedge, hedgeCandidates } from './hedging.js';
import { newMachine, queuedCount, type Machine, type OrchEvent, type OrchestratorPlantedBug } from './machine.js';
import * as q from './queries.js';
import { checkInvariants, orchestratorFormatVersion, type TaskRec } from './records.js';
import { releaseWorker, resetDone, setBreakerConfig, setBreakerEnabled } from './recovery-steps.js';
import { applyResults } from './results.js';
import { cancelRun, failTasks, previewQueued, pruneRuns, submitRun, type QueuedPreview } from './runs.js';
import type { RunLoad, SchedulableTask, SchedulableWorker } from './scheduler.js';
import { decodeData, encodeData, type OrchestratorData } from './snapshot.js';
import { drainWorker, forgetWorkerKey, registerWorker, workerLost } from './workers.js';
import { capabilityKeyOf } from './worker-health.js';

/**
 * The orchestrator's replicated state: workers, runs, tasks, attempts,
 * results, and the timing and flakiness histories. It is the coordinator
 * machine's extension (see MachineExtension): every change comes from an
 * applied command, every time from the command's stamp, so every replica
 * holds the same state (compare `digest()` of the machine).
 *
 * Invariants (asserted): a task is in exactly one state; only its last
 * attempt may run, or its last two while it is hedged (hedging.ts); a worker's `running` set holds exactly the running
 * attempts assigned to it; a run's counts equal its tasks' states; a result
 * is counted at most once (docs/architecture.md, invariant 4), and a task ends exactly
 * once (invariant 5).
 */

export {
  cancelledRunsMax,
  decisionsPerTaskMax,
  pruneBatchMax,
  retryBackoffBaseMs,
  retryBackoffMaxMs,
  runsMax,
  tasksMax,
  workerIdentityRefusal,
  workersMax,
  type AssignOutcome,
  type CancelOutcome,
  type OrchEvent,
  type OrchestratorPlantedBug,
  type RegisterOutcome,
  type ResultsOutcome,
  type ResultStatus,
  type WorkerLostOutcome,
} from './machine.js';
export { orchestratorFormatVersion };

/** Called after each applied command with the runs it touched (node-local; never part of the state). */
export type ChangeListener = (runIds: ReadonlySet<string>, command: OrchCommand['type'], events: readonly OrchEvent[]) => void;

/** The breaker settings a new cluster starts with; `set-breaker-config` changes them for every replica alike. */
export const breakerConfig = defaultBreakerConfig;

export class Orchestrator implements MachineExtension {
  /** The working state (machine.ts): the replicated records, the queue order, the applying command's touches and events. */
  private readonly m: Machine;
  private readonly listeners = new Set<ChangeListener>();

  /**
   * `plantedBug` exists only to prove that the chaos checks catch a broken
   * state machine (docs/chaos.md, src/coordinator/planted-bugs.ts):
   * 'count-late-result' counts a test verdict that arrives for a superseded
   * (lost or cancelled, e.g. a hedge's loser) attempt; 'drop-task' never queues a run's last task; 'diverge'
   * records a passed task's finish 1 ms late (set on one replica only). A
   * coordinator sets it only with --chaos-hooks and TESTUDO_CHAOS_PLANTED_BUG;
   * never in production.
   */
  constructor(options: { readonly plantedBug?: OrchestratorPlantedBug } = {}) {
    this.m = newMachine(options.plantedBug);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ------------------------------------------------------------------ apply

  apply(_index: number, atMs: number, payload: Uint8Array, deflated: boolean): unknown {
    const command = decodeOrchCommand(payload, deflated);
    this.m.touched = new Set();
    this.m.events = [];
    const result = this.applyDecoded(command, atMs);
    const touched = this.m.touched;
    const events = this.m.events;
    for (const listener of this.listeners) listener(touched, command.type, events);
    return result;
  }

  private applyDecoded(command: OrchCommand, atMs: number): OrchResults[OrchCommandType] {
    switch (command.type) {
      case 'register-worker':
        return registerWorker(this.m, command, atMs) satisfies OrchResults['register-worker'];
      case 'worker-lost':
        return workerLost(this.m, command.workerId, command.reason, atMs) satisfies OrchResults['worker-lost'];
      case 'drain-worker':
        return drainWorker(this.m, command.workerId, command.drain) satisfies OrchResults['drain-worker'];
      case 'submit-run':
        return submitRun(this.m, command.runId, command.submission, atMs) satisfies OrchResults['submit-run'];
      case 'assign':
        return assign(this.m, command.assignments, atMs) satisfies OrchResults['assign'];
      case 'hedge':
        return hedge(this.m, command.assignments, atMs) satisfies OrchResults['hedge'];
      case 'results':
        return applyResults(this.m, command.results, atMs) satisfies OrchResults['results'];
      case 'cancel-run':
        return cancelRun(this.m, command.runId, command.reason, atMs) satisfies OrchResults['cancel-run'];
      case 'prune-runs':
        return pruneRuns(this.m, command.finishedBeforeMs) satisfies OrchResults['prune-runs'];
      case 'fail-tasks':
        return failTasks(this.m, command.taskIds, command.reason, atMs) satisfies OrchResults['fail-tasks'];
      case 'worker-reset-done':
        return resetDone(this.m, command.workerId, command.ok, command.reason, atMs) satisfies OrchResults['worker-reset-done'];
      case 'release-worker':
        return releaseWorker(this.m, command.workerId, command.reason, atMs) satisfies OrchResults['release-worker'];
      case 'forget-worker-key':
        return forgetWorkerKey(this.m, command.workerId, command.reason) satisfies OrchResults['forget-worker-key'];
      case 'set-breaker':
        return setBreakerEnabled(this.m, command.workerId, command.enabled, command.reason, atMs) satisfies OrchResults['set-breaker'];
      case 'set-breaker-config':
        return setBreakerConfig(this.m, command.config) satisfies OrchResults['set-breaker-config'];
    }
  }

  // ------------------------------------------------- capacity and hedges

  /**
   * Hedges worth proposing at `nowMs` (read-only, for the leader's
   * scheduler; hedging.ts): none while any task is queued, else stragglers
   * matched to idle connected workers in full service.
   */
  hedgeCandidates(nowMs: number, connected: (workerId: string) => boolean = () => true): Assignment[] {
    return hedgeCandidates(this.m, nowMs, connected);
  }

  /** How much of the worker's capacity the scheduler uses at `nowMs`, and why (capacity, told). */
  workerService(workerId: string, nowMs: number): WorkerServiceView {
    const w = this.m.workers.get(workerId);
    if (w === undefined) return { service: 'out', reason: 'unknown worker' };
    const { service, reason } = capacityOf(this.m.fleet, w, nowMs);
    return { service, reason };
  }

  /** Workers that may take work at `nowMs`, with the attempts each may start (capacity.ts). No transition is applied. */
  schedulableWorkers(nowMs: number, connected: (workerId: string) => boolean = () => true): SchedulableWorker[] {
    return schedulableWorkersOf(this.m.fleet, nowMs, connected);
  }

  /** The breaker settings in force. */
  breakerConfig(): BreakerConfig {
    return this.m.breakerSettings;
  }

  // -------------------------------------------------------- scheduler view

  /** The tasks submit-run would queue for this submission, as queuedTasks will yield them; null when that is not known before the apply (runs.ts, previewQueued). */
  previewQueued(runId: string, submission: RunSubmission): QueuedPreview | null {
    return previewQueued(this.m, runId, submission);
  }

  /** Queued tasks in scheduling order (node-local, derived). */
  *queuedTasks(): Generator<SchedulableTask> {
    if (this.m.queueDirty) {
      const seen = new Set<TaskRec>();
      this.m.queueOrder = this.m.queueOrder.filter((t) => t.state === 'queued' && this.m.tasks.get(t.taskId) === t && !seen.has(t) && seen.add(t));
      this.m.queueOrder.sort((a, b) => b.template.priority - a.template.priority || b.expectedMs - a.expectedMs || a.seq - b.seq);
      this.m.queueDirty = false;
      this.m.queueHead = 0;
    }
    const order = this.m.queueOrder;
    // Entries before queueHead were started or ended (machine.ts): each pass begins past them.
    let stale = this.m.queueHead;
    for (let i = this.m.queueHead; i < order.length; i++) {
      const task = order[i]!;
      if (task.state !== 'queued') {
        stale++;
        if (i === this.m.queueHead) this.m.queueHead++;
        continue;
      }
      yield {
        taskId: task.taskId,
        runId: task.runId,
        requirements: task.template.requirements,
        exclusive: task.template.exclusive,
        notBeforeMs: task.notBeforeMs,
        avoidWorkers: task.avoidWorkers,
        preferWorker: task.preferWorker,
      };
    }
    // Drop ended entries once they dominate, so the order does not grow without bound.
    if (stale > 1024 && stale * 2 > order.length) this.m.queueDirty = true;
  }

  get queuedCount(): number {
    return queuedCount(this.m);
  }

  runLoad(runId: string): RunLoad {
    const run = this.m.runs.get(runId);
    return run === undefined ? { parallelOpen: 0, running: 0 } : { parallelOpen: run.parallelOpen, running: run.running };
  }

  // ------------------------------------------------ reads (queries.ts)

  /** Runs, tasks and workers by state (for metrics). */
  stateCounts(): ReturnType<typeof q.stateCounts> {
    return q.stateCounts(this.view());
  }

  /** Queued tasks whose requirements no registered worker (active or draining) meets; at most `limit`. */
  unschedulableTasks(limit: number): ReturnType<typeof q.unschedulableTasks> {
    return q.unschedulableTasks(this.view(), limit);
  }

  resetSinceMs(workerId: string): number {
    return q.resetSinceMs(this.view(), workerId);
  }

  taskQueuedAtMs(taskId: string): number | undefined {
    return q.taskQueuedAtMs(this.view(), taskId);
  }

  nextBackoffEndMs(nowMs: number): number | null {
    return q.nextBackoffEndMs(this.view(), nowMs);
  }

  attemptOrder(attemptId: string): AttemptOrder | undefined {
    return q.attemptOrder(this.view(), attemptId);
  }

  workerKeyHash(workerId: string): string {
    return q.workerKeyHash(this.view(), workerId);
  }

  attemptWorker(attemptId: string): string | undefined {
    return q.attemptWorker(this.view(), attemptId);
  }

  worker(workerId: string): WorkerView | undefined {
    return q.workerOf(this.view(), workerId);
  }

  listWorkers(): WorkerView[] {
    return q.listWorkers(this.view());
  }

  listRuns(): RunSummary[] {
    return q.listRuns(this.view());
  }

  /** The dashboard's queue: the first `limit` live tasks of the running runs, and how many there are (queries.ts liveTasks). */
  liveTasks(limit: number): { tasks: LiveTaskView[]; total: number } {
    return q.liveTasks(this.view(), limit);
  }

  runSummary(runId: string): RunSummary | undefined {
    return q.runSummaryOf(this.view(), runId);
  }

  getRun(runId: string): RunView | undefined {
    return q.getRun(this.view(), runId);
  }

  prunableBefore(ms: number): number {
    return q.prunableBefore(this.view(), ms);
  }

  /** The data the queries read. */
  private view(): q.OrchestratorView {
    const { workers, runs, tasks, attemptIndex: attempts, flakes, queueOrder, breakerSettings } = this.m;
    return { workers, runs, tasks, attempts, flakes, queueOrder, breakerSettings };
  }

  // -------------------------------------------------------------- snapshots

  snapshot(): Uint8Array {
    return encodeData(this.data());
  }

  restore(bytes: Uint8Array): void {
    const decoded = decodeData(bytes);
    try {
      this.replace(decoded);
    } catch (error) {
      throw new SnapshotDecodeError(`orchestrator state is malformed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The replicated data, as one object (the fields themselves, not copies). */
  private data(): OrchestratorData {
    const { workers, runs, tasks, attemptIndex: attempts, timings, flakes, nextSeq, recovery, breakerSettings } = this.m;
    return { workers, runs, tasks, attempts, timings, flakes, nextSeq, recovery, breakerSettings };
  }

  /** Installs `next` whole, or (when its invariants fail) keeps the data as it was. */
  private replace(next: OrchestratorData): void {
    const old = this.data();
    const install = (d: OrchestratorData): void => {
      this.m.workers = d.workers;
      this.m.runs = d.runs;
      this.m.tasks = d.tasks;
      this.m.attemptIndex = d.attempts;
      this.m.timings = d.timings;
      this.m.flakes = d.flakes;
      this.m.nextSeq = d.nextSeq;
      this.m.recovery = d.recovery;
      this.m.breakerSettings = d.breakerSettings;
      this.m.queueOrder = [...d.tasks.values()].filter((t) => t.state === 'queued');
      this.m.queueDirty = true;
      this.m.queueHead = 0;
    };
    install(next);
    try {
      this.checkInvariants();
    } catch (error) {
      install(old);
      throw error;
    }
    for (const listener of this.listeners) listener(new Set(next.runs.keys()), 'submit-run', []);
  }

  /** Asserts the cross-record invariants (after a restore; tests call it after every step). */
  checkInvariants(): void {
    checkInvariants(this.m.runs, this.m.tasks, this.m.workers);
  }
}

export type { FaultClass };

export { capabilityKeyOf };
