import type * as grpc from '@grpc/grpc-js';

import { assert } from '../../common/assert.js';
import type { CoordinatorMessage, RunSubmission, WorkerMessageReceived } from '../../model/index.js';
import type { CancelOutcome, OrchEvent } from '../orchestrator/state.js';
import type { LeaderHost } from './host.js';
import { Housekeeping } from './housekeeping.js';
import { ResultCommit } from './result-commit.js';
import { ScheduleLoop } from './schedule-loop.js';
import { SessionProtocol } from './session-protocol.js';
import { SessionTable } from './session-table.js';

/** follower: sessions are sent to the leader. leader: the loops run. stopped: for good (the node is shutting down). */
export type LeaderRole = 'follower' | 'leader' | 'stopped';

/**
 * What only the leader does, wired together: the worker sessions
 * (SessionTable, SessionProtocol), result commit (ResultCommit), the
 * scheduling loop (ScheduleLoop) and housekeeping (Housekeeping). Every
 * node has one; `setLeader` starts and stops the loops on role changes.
 *
 * Heartbeats stay in memory: only a worker's loss (its TTL ran out) goes
 * through the log. A node that becomes leader gives every known worker
 * `graceMs` to reconnect before any TTL can expire.
 */
export class Leader {
  private role: LeaderRole = 'follower';
  private readonly table: SessionTable;
  private readonly protocol: SessionProtocol;
  private readonly results: ResultCommit;
  private readonly schedule: ScheduleLoop;
  private readonly housekeeping: Housekeeping;

  constructor(private readonly host: LeaderHost) {
    this.table = new SessionTable(host.log, (attemptId) => host.orchestrator.attemptOrder(attemptId));
    this.schedule = new ScheduleLoop(host, this.table);
    const kick = (): void => this.schedule.kick();
    this.results = new ResultCommit(host, this.table, kick);
    this.housekeeping = new Housekeeping(host, this.table, kick);
    this.protocol = new SessionProtocol(host, this.table, {
      role: () => this.role,
      results: (workerId, raw) => this.results.receive(workerId, raw),
      resetDone: (workerId, ok, reason) => this.housekeeping.resetDone(workerId, ok, reason),
      kick,
    });
    // Applied on every node; acted on by the leader only.
    host.orchestrator.onChange((_runs, _type, events) => {
      if (this.role !== 'leader') return;
      for (const event of events) this.onEvent(event);
    });
  }

  /** Call on every role change: starts or stops the leader's loops. */
  setLeader(leading: boolean): void {
    if (this.role === 'stopped' || leading === (this.role === 'leader')) return;
    if (leading) {
      this.role = 'leader';
      this.table.forgetHeard();
      this.housekeeping.start();
      this.results.start();
      this.host.log.info({ event: 'sessions-leading', graceMs: this.host.settings.graceMs }, 'leading: accepting worker sessions');
      this.schedule.start();
    } else {
      this.role = 'follower';
      this.stopLoops({ notLeader: this.host.leaderHint() });
    }
  }

  /** The node is shutting down: the loops stop and every session ends. */
  stop(): void {
    this.role = 'stopped';
    this.stopLoops(null);
  }

  private stopLoops(last: CoordinatorMessage | null): void {
    this.housekeeping.stop();
    this.schedule.stop();
    this.results.stop();
    this.table.endAll(last);
    assert(this.table.size === 0, 'a session outlived the leadership');
  }

  /** The Worker.Session handler. */
  handler(): grpc.handleBidiStreamingCall<WorkerMessageReceived, CoordinatorMessage> {
    return (call) => this.protocol.open(call);
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    this.schedule.kick();
  }

  /** Submit-run's fast path: proposes the submission's first assignments right behind it (ScheduleLoop.proposeAlongside). */
  proposeAlongside(runId: string, submission: RunSubmission): void {
    if (this.role === 'leader') this.schedule.proposeAlongside(runId, submission);
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.table.size;
  }

  /** When this leader last heard from the worker (its clock), or undefined. */
  lastHeartbeatMs(workerId: string): number | undefined {
    return this.table.lastSeen(workerId);
  }

  /** Workers with a session now. */
  connected(workerId: string): boolean {
    return this.table.has(workerId);
  }

  /** Tells workers to stop attempts a committed cancel-run ended. */
  pushCancels(outcome: CancelOutcome, reason: string): void {
    const byWorker = new Map<string, string[]>();
    for (const c of outcome.cancelled) byWorker.set(c.workerId, [...(byWorker.get(c.workerId) ?? []), c.attemptId]);
    for (const [workerId, attemptIds] of byWorker) this.table.write(workerId, { cancel: { attemptIds, reason } });
    this.kick();
  }

  private onEvent(event: OrchEvent): void {
    switch (event.kind) {
      case 'reset':
        this.host.log.warn({ event: 'worker-reset', workerId: event.workerId, reason: event.reason }, 'asking the worker to reset');
        this.table.write(event.workerId, { reset: { reason: event.reason } });
        return;
      case 'breaker':
        this.host.log.warn(
          { event: 'breaker-transition', workerId: event.workerId, from: event.from, to: event.to, reason: event.reason },
          `breaker of ${event.workerId}: ${event.from} → ${event.to}`,
        );
        return;
      case 'cancel-attempt':
        this.host.log.info({ event: 'hedge-superseded', workerId: event.workerId, attemptId: event.attemptId }, event.reason);
        this.table.write(event.workerId, { cancel: { attemptIds: [event.attemptId], reason: event.reason } });
        return;
      case 'alert':
        this.host.log.error({ event: 'alert', alert: event.alert, workerId: event.workerId, runId: event.runId, taskId: event.taskId }, event.text);
        this.host.onAlert?.(event);
        return;
    }
  }
}
