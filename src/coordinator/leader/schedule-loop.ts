import { assert } from '../../common/assert.js';
import type { RunSubmission } from '../../model/index.js';
import type { Assignment } from '../orchestrator/commands.js';
import { planAssignments, scheduleLimitsDefault } from '../orchestrator/scheduler.js';
import type { AssignOutcome } from '../orchestrator/state.js';
import { leaderProposal, type LeaderHost } from './host.js';
import type { SessionTable } from './session-table.js';

/** How often the leader schedules even when nothing asked it to (a missed kick costs at most this). */
export const scheduleTickMs = 1000;
/**
 * Least time between two looks for stragglers to hedge: a look may read
 * every task of a run (the peers' median), and at a run's tail passes come
 * with every committed result.
 */
export const hedgeScanIntervalMs = 500;
/**
 * Most tasks a submission may have for its first assign to be proposed
 * alongside it (proposeAlongside): the preview reads every task's expected
 * duration and sorts them, on the event loop, before the submit-run is
 * handed to Raft (20-56 ms for 20,000 tasks here, 0.5-4 ms for 1,000), and
 * saves one commit round, which matters to a short run only.
 */
export const alongsideTasksMax = 1000;

/**
 * idle: no pass asked for. queued: a pass runs on the next turn of the
 * event loop (kicks meanwhile fold into it). proposing: a pass's assign
 * command is out; kicks meanwhile are covered by the pass the loop asks for
 * when it comes back.
 */
export type SchedulePhase = 'idle' | 'queued' | 'proposing';

/**
 * The leader's scheduling loop: one pass at a time plans assignments from
 * the applied state (planAssignments), proposes them as one `assign`
 * command and sends each worker its orders once committed (prefetched ones
 * included: the worker queues what its slots cannot start yet). A pass with
 * nothing to assign proposes the hedges of straggling tasks instead
 * (Orchestrator.hedgeCandidates), delivered the same way. Kicked by
 * whatever may free a slot or queue a task, and every `scheduleTickMs`.
 */
export class ScheduleLoop {
  private leading = false;
  private phase: SchedulePhase = 'idle';
  private tickTimer: NodeJS.Timeout | null = null;
  /** Wakes the loop when the first retry backoff ends. */
  private backoffTimer: NodeJS.Timeout | null = null;
  private lastHedgeScanMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly host: LeaderHost,
    private readonly table: SessionTable,
  ) {}

  get currentPhase(): SchedulePhase {
    return this.phase;
  }

  start(): void {
    assert(this.tickTimer === null, 'schedule loop started twice');
    this.leading = true;
    this.tickTimer = setInterval(() => this.kick(), scheduleTickMs);
    this.tickTimer.unref();
    this.kick();
  }

  /** Stepped down: no new pass starts (one proposing finishes and stops there). */
  stop(): void {
    this.leading = false;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    if (!this.leading || this.phase !== 'idle') return;
    this.phase = 'queued';
    setImmediate(() => void this.pass());
  }

  private async pass(): Promise<void> {
    assert(this.phase === 'queued', `a schedule pass started while ${this.phase}`);
    this.phase = 'idle';
    if (!this.leading) return;
    const orchestrator = this.host.orchestrator;
    const nowMs = this.host.nowMs();
    const plan = planAssignments({
      queue: orchestrator.queuedTasks(),
      workers: orchestrator.schedulableWorkers(nowMs, (id) => this.table.has(id)),
      runLoad: (runId) => orchestrator.runLoad(runId),
      nowMs,
      limits: scheduleLimitsDefault,
      queuedTotal: orchestrator.queuedCount,
    });
    // Nothing to place: at the tail, idle slots may hedge stragglers instead.
    let hedges: ReturnType<typeof orchestrator.hedgeCandidates> = [];
    if (plan.length === 0 && nowMs - this.lastHedgeScanMs >= hedgeScanIntervalMs) {
      this.lastHedgeScanMs = nowMs;
      hedges = orchestrator.hedgeCandidates(nowMs, (id) => this.table.has(id));
    }
    if (plan.length === 0 && hedges.length === 0) {
      this.armBackoffTimer(nowMs);
      return;
    }
    this.phase = 'proposing';
    try {
      const command = plan.length > 0 ? ({ type: 'assign', assignments: plan } as const) : ({ type: 'hedge', assignments: hedges } as const);
      const { value } = await this.host.proposer.propose(command, leaderProposal(this.host));
      if (value !== null) this.deliver(value, nowMs);
    } catch (error) {
      this.host.log.warn({ err: error }, 'assignment not committed');
    } finally {
      assert(this.phase === 'proposing', `a schedule pass ended while ${this.phase}`);
      this.phase = 'idle';
    }
    this.kick();
  }

  /**
   * Submit-run's fast path, called just after the submit-run is proposed:
   * when nothing else is queued and the run has at most `alongsideTasksMax`
   * tasks, plans the submission's tasks as they will be queued
   * (Orchestrator.previewQueued), proposes their assign right behind it, so
   * that both usually commit in one round instead of one after the other,
   * and sends the orders once it commits. The assign is checked when
   * applied like any other: should it reach the log before the submit-run
   * (a large submission deflates off the event loop), or find the slots
   * taken by a pass of the loop, its assignments are skipped and the loop's
   * next pass places the tasks. The loop's own pass meanwhile is unaffected
   * (one that plans the same tasks loses them the same way). Never throws:
   * the submit-run it follows is already on its way.
   */
  proposeAlongside(runId: string, submission: RunSubmission): void {
    if (!this.leading || submission.tasks.length > alongsideTasksMax) return;
    let plan: Assignment[];
    const nowMs = this.host.nowMs();
    try {
      plan = this.planAlongside(runId, submission, nowMs);
    } catch (error) {
      this.host.log.warn({ err: error, runId }, 'could not plan the assignments to propose alongside a run; the loop plans them after its commit');
      return;
    }
    if (plan.length === 0) return;
    this.host.proposer.propose({ type: 'assign', assignments: plan }, leaderProposal(this.host)).then(
      ({ value }) => {
        if (value !== null) this.deliver(value, nowMs);
        this.kick();
      },
      (error: unknown) => this.host.log.warn({ err: error, runId }, 'the assign proposed alongside a run was not committed'),
    );
  }

  /** The first assignments of a submission not applied yet, or none when its queue cannot be told (previewQueued). */
  private planAlongside(runId: string, submission: RunSubmission, nowMs: number): Assignment[] {
    const orchestrator = this.host.orchestrator;
    const preview = orchestrator.previewQueued(runId, submission);
    if (preview === null) return [];
    return planAssignments({
      queue: preview.tasks,
      workers: orchestrator.schedulableWorkers(nowMs, (id) => this.table.has(id)),
      runLoad: (id) => (id === runId ? preview.load : orchestrator.runLoad(id)),
      nowMs,
      limits: scheduleLimitsDefault,
      queuedTotal: preview.tasks.length,
    });
  }

  /** Sends each worker the orders committed for it. */
  private deliver(outcome: AssignOutcome, nowMs: number): void {
    const byWorker = new Map<string, string[]>();
    const queuedMs: number[] = [];
    for (const a of outcome.assigned) {
      // At least 0: an assign planned alongside its run is planned before the run is stamped.
      if (a.attemptId.endsWith('.a1')) queuedMs.push(Math.max(0, nowMs - (this.host.orchestrator.taskQueuedAtMs(a.taskId) ?? nowMs)));
      const list = byWorker.get(a.workerId) ?? [];
      list.push(a.attemptId);
      byWorker.set(a.workerId, list);
    }
    for (const [workerId, attemptIds] of byWorker) this.table.sendOrdersTo(workerId, attemptIds);
    if (queuedMs.length > 0) this.host.onDispatched?.(queuedMs);
  }

  private armBackoffTimer(nowMs: number): void {
    const next = this.host.orchestrator.nextBackoffEndMs(nowMs);
    if (next === null || this.backoffTimer !== null) return;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      this.kick();
    }, Math.max(1, next - nowMs));
    this.backoffTimer.unref();
  }
}
