import { assert } from '../../common/assert.js';
import { leaderProposal, type LeaderHost } from './host.js';
import { InflightProposals } from './inflight.js';
import type { SessionTable } from './session-table.js';

/** Queued tasks looked at per unschedulable check, and failed per command. */
export const unschedulableBatchMax = 512;
/** How often the leader looks for finished runs past retention. */
export const pruneIntervalMs = 60_000;
/** How often TTLs are checked: half a heartbeat, at least this. */
export const ttlCheckIntervalMinMs = 50;

/**
 * The leader's housekeeping, each on its own interval: workers whose TTL
 * ran out are declared lost, resets that never end are ended failed,
 * tasks nobody can run end failed-infra, finished runs past retention are
 * pruned. Each proposal is keyed in `inflight`, so a slow commit is never
 * proposed twice.
 */
export class Housekeeping {
  private leading = false;
  /** When this node became leader: nobody is declared lost within `graceMs` of it. */
  private leaderSinceMs = 0;
  /** Task id → when this leader first saw no worker able to run it. */
  private readonly unschedulableSinceMs = new Map<string, number>();
  private readonly inflight = new InflightProposals();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly host: LeaderHost,
    private readonly table: SessionTable,
    private readonly kick: () => void,
  ) {}

  /** Keys of the proposals out now (tests watch them). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  start(): void {
    assert(this.timers.length === 0, 'housekeeping started twice');
    this.leading = true;
    this.leaderSinceMs = this.host.nowMs();
    this.unschedulableSinceMs.clear();
    const { heartbeatIntervalMs, unschedulableTimeoutMs } = this.host.settings;
    this.timers = [
      setInterval(() => this.checkTtls(), Math.max(ttlCheckIntervalMinMs, Math.floor(heartbeatIntervalMs / 2))),
      setInterval(() => this.maybePrune(), pruneIntervalMs),
      setInterval(() => this.failUnschedulable(), Math.min(5000, Math.max(100, Math.floor(unschedulableTimeoutMs / 4)))),
    ];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    this.leading = false;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** A worker reported the end of its reset (or it never did, `ok` false); proposed once at a time per worker. */
  resetDone(workerId: string, ok: boolean, reason: string): void {
    this.inflight.maybeStart(`reset-done:${workerId}`, () =>
      this.host.proposer
        .propose({ type: 'worker-reset-done', workerId, ok, reason: reason.slice(0, 1000) || (ok ? 'reset done' : 'reset failed') }, leaderProposal(this.host))
        .then(() => {
          this.host.log.info({ workerId, ok }, ok ? 'worker reset done; it takes work again' : 'worker reset failed');
          this.kick();
        })
        .catch((error: unknown) => this.host.log.warn({ err: error, workerId }, 'could not record the end of a reset')),
    );
  }

  /** Declares lost each worker not heard from within its TTL (and not within the grace period of this leader). */
  checkTtls(): void {
    if (!this.leading) return;
    const nowMs = this.host.nowMs();
    this.checkResets(nowMs);
    const { workerTtlMs, graceMs } = this.host.settings;
    for (const worker of this.host.orchestrator.listWorkers()) {
      if (worker.state === 'lost') continue;
      const seen = this.table.lastSeen(worker.workerId) ?? this.leaderSinceMs;
      const deadline = Math.max(seen + workerTtlMs, this.leaderSinceMs + graceMs);
      if (nowMs <= deadline) continue;
      const reason = `no heartbeat for ${nowMs - seen} ms (TTL ${workerTtlMs} ms)`;
      this.inflight.maybeStart(`lost:${worker.workerId}`, () => this.declareLost(worker.workerId, reason));
    }
  }

  private async declareLost(workerId: string, reason: string): Promise<void> {
    this.host.log.warn({ event: 'worker-lost', workerId, reason }, 'declaring worker lost');
    try {
      await this.host.proposer.propose({ type: 'worker-lost', workerId, reason }, leaderProposal(this.host));
      this.table.endWorker(workerId);
      this.kick();
    } catch (error) {
      this.host.log.warn({ err: error, workerId }, 'could not declare worker lost');
    }
  }

  /** A worker that never reports its reset done is quarantined rather than kept out forever. */
  private checkResets(nowMs: number): void {
    const { resetTimeoutMs } = this.host.settings;
    for (const worker of this.host.orchestrator.listWorkers()) {
      // A lost worker is asked again when it comes back, with a fresh timeout.
      if (!worker.resetting || worker.state === 'lost') continue;
      const since = this.host.orchestrator.resetSinceMs(worker.workerId);
      if (nowMs - since > resetTimeoutMs) this.resetDone(worker.workerId, false, `no reset_done within ${resetTimeoutMs} ms`);
    }
  }

  /**
   * Ends tasks no registered worker has been able to run for
   * `unschedulableTimeoutMs` (invariant 5: every task ends), naming the
   * requirements nobody meets. Workers that register in time save them.
   */
  failUnschedulable(): void {
    if (!this.leading || this.inflight.has('fail-unschedulable')) return;
    const nowMs = this.host.nowMs();
    const { unschedulableTimeoutMs } = this.host.settings;
    const stuck = this.host.orchestrator.unschedulableTasks(unschedulableBatchMax * 4);
    const current = new Set(stuck.map((t) => t.taskId));
    for (const id of this.unschedulableSinceMs.keys()) if (!current.has(id)) this.unschedulableSinceMs.delete(id);
    const expired: string[] = [];
    let requirements = '';
    for (const task of stuck) {
      const since = this.unschedulableSinceMs.get(task.taskId) ?? nowMs;
      this.unschedulableSinceMs.set(task.taskId, since);
      if (nowMs - since >= unschedulableTimeoutMs && expired.length < unschedulableBatchMax) {
        expired.push(task.taskId);
        requirements = JSON.stringify(task.requirements);
      }
    }
    if (expired.length === 0) return;
    const reason = `unschedulable: no registered worker met the requirements ${requirements} for ${Math.round(unschedulableTimeoutMs / 1000)} s`;
    this.host.log.warn({ tasks: expired.length, reason }, 'ending unschedulable tasks');
    this.inflight.maybeStart('fail-unschedulable', () =>
      this.host.proposer
        .propose({ type: 'fail-tasks', taskIds: expired, reason }, leaderProposal(this.host))
        .then(() => {
          for (const id of expired) this.unschedulableSinceMs.delete(id);
        })
        .catch((error: unknown) => this.host.log.warn({ err: error }, 'could not end unschedulable tasks')),
    );
  }

  /** Prunes finished runs past retention (at most one prune out at a time). */
  maybePrune(): void {
    if (!this.leading || this.inflight.has('prune')) return;
    const before = this.host.nowMs() - this.host.settings.runRetentionMs;
    if (this.host.orchestrator.prunableBefore(before) === 0) return;
    this.inflight.maybeStart('prune', () =>
      this.host.proposer
        .propose({ type: 'prune-runs', finishedBeforeMs: before }, leaderProposal(this.host))
        .then(({ value }) => this.host.log.info({ pruned: value?.pruned.length ?? 0 }, 'pruned finished runs past retention'))
        .catch((error: unknown) => this.host.log.warn({ err: error }, 'prune failed')),
    );
  }
}
