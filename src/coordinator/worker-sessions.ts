import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import type { AttemptResult, Capabilities } from '../model/index.js';
import { InvalidArgumentError } from './codec.js';
import { proposalTimeoutMs, type ProposeOptions, type Proposer } from './propose.js';
import { planAssignments, scheduleLimitsDefault } from './orchestrator/scheduler.js';
import { workerIdentityRefusal, type CancelOutcome, type OrchEvent, type Orchestrator, type ResultsOutcome } from './orchestrator/state.js';
import { sessionKeyHash } from '../security/auth-token.js';
import { validateResult } from './orchestrator/validate.js';
import { failStream } from './stream-status.js';

/**
 * The leader's side of the worker sessions (one bidirectional stream per
 * worker), and the leader-only loops that drive the orchestrator: the
 * scheduler, result batching, worker time-to-live and pruning.
 *
 * Heartbeats stay in memory: only a worker's loss (its TTL ran out) goes
 * through the log. A node that becomes leader gives every known worker
 * `graceMs` to reconnect before any TTL can expire.
 */

export interface SessionSettings {
  /** How often workers send heartbeats. */
  readonly heartbeatIntervalMs: number;
  /** A worker not heard from for this long is declared lost. */
  readonly workerTtlMs: number;
  /** A new leader's grace period before it declares anyone lost. */
  readonly graceMs: number;
  /** Finished runs are pruned from the state this long after they finish. */
  readonly runRetentionMs: number;
  /** A queued task no registered worker can run ends failed-infra after this long. */
  readonly unschedulableTimeoutMs: number;
  /** A worker asked to reset that has not reported it done after this long is quarantined. */
  readonly resetTimeoutMs: number;
}

export const sessionSettingsDefault: SessionSettings = {
  heartbeatIntervalMs: 1000,
  workerTtlMs: 10_000,
  graceMs: 15_000,
  runRetentionMs: 7 * 24 * 3600 * 1000,
  unschedulableTimeoutMs: 10 * 60 * 1000,
  resetTimeoutMs: 10 * 60 * 1000,
};

/** Queued tasks looked at per unschedulable check, and failed per command. */
export const unschedulableBatchMax = 512;

/** Results in one log entry. */
export const resultBatchMax = 512;
/** Result batches proposed and not yet applied. */
export const resultBatchesInflightMax = 4;
/** Results waiting to be proposed; beyond this a session's results are refused (the worker resends later). */
export const pendingResultsMax = 20_000;
/** Wait before proposing results again after a failed proposal. */
export const resultRetryDelayMs = 200;
/** Messages queued to one worker before its session is cut (it reconnects). */
export const sessionQueueMax = 10_000;
/**
 * Longest a coordinator that knows no leader holds a new session before it
 * answers `not_leader`: an election usually ends well within it, and the
 * worker then dials the new leader at once instead of backing off.
 */
export const leaderHintWaitMs = 2000;
/** How often a held session checks for a leader. */
export const leaderHintPollMs = 20;

export interface SessionHost {
  readonly nodeId: string;
  /** This node's cluster: a worker asking for another is refused, and the welcome names it. */
  readonly clusterId: string;
  readonly proposer: Proposer;
  readonly orchestrator: Orchestrator;
  readonly log: Logger;
  readonly settings: SessionSettings;
  leaderHint(): { leaderId: string; leaderAddress: string };
  nowMs(): number;
  onResults?(statuses: ResultsOutcome['statuses']): void;
  /** Alerts raised by applied commands (the leader sends them on). */
  onAlert?(event: Extract<OrchEvent, { kind: 'alert' }>): void;
  /** First attempts committed, with their tasks' time in the queue. */
  onDispatched?(queuedMs: readonly number[]): void;
  /** A result refused before proposing: it named another worker, or its attempt is another worker's. */
  onResultRefused?(reason: 'names-other-worker' | 'foreign-attempt'): void;
  /** A session refused: its worker id is bound to another session key. */
  onSessionRefused?(reason: 'identity'): void;
}

interface WorkerMessage {
  hello?: { workerId: string; name: string; slots: number; httpAddress: string; capabilities: string; running: string[]; pending: string[]; version: string; sessionKey?: string; clusterId: string };
  heartbeat?: { seq: number };
  results?: { results: string[] };
  resetDone?: { ok: boolean; reason: string };
}

type CoordinatorMessage =
  | { welcome: { workerId: string; leaderId: string; heartbeatIntervalMs: number; ttlMs: number; clusterId: string } }
  | { notLeader: { leaderId: string; leaderAddress: string } }
  | { assign: { orders: string[] } }
  | { cancel: { attemptIds: string[]; reason: string } }
  | { committed: { attemptIds: string[] } }
  | { heartbeatAck: { seq: number } }
  | { reset: { reason: string } };

type SessionCall = grpc.ServerDuplexStream<WorkerMessage, CoordinatorMessage>;

interface Session {
  readonly call: SessionCall;
  readonly workerId: string;
  /** Orders handed to the stream (attempt ids), to skip repeats. */
  readonly sent: Set<string>;
}

/** An infra-error result of class malformed-report for an attempt whose result cannot be committed as sent. */
function malformedResult(result: AttemptResult, reason: string): AttemptResult {
  const number = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    attemptId: result.attemptId,
    taskId: result.taskId,
    workerId: result.workerId,
    outcome: 'infra-error',
    infraClass: 'malformed-report',
    reason: reason.slice(0, 4096),
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : null,
    signal: typeof result.signal === 'string' ? result.signal.slice(0, 32) : '',
    startedAtMs: number(result.startedAtMs),
    finishedAtMs: number(result.finishedAtMs),
    tests: [],
    outputTail: typeof result.outputTail === 'string' ? result.outputTail.slice(-8192) : '',
    logBytes: number(result.logBytes),
  };
}

export class WorkerSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly lastSeenMs = new Map<string, number>();
  private leaderSinceMs = 0;
  private leading = false;
  private pendingResults = new Map<string, AttemptResult>();
  private resultBatchesInflight = 0;
  private assignInflight = false;
  private scheduleQueued = false;
  private readonly lostInflight = new Set<string>();
  private pruneInflight = false;
  /** Task id → when this leader first saw no worker able to run it. */
  private readonly unschedulableSinceMs = new Map<string, number>();
  private failInflight = false;
  private timers: NodeJS.Timeout[] = [];
  private backoffTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  private readonly resetDoneInflight = new Set<string>();

  constructor(private readonly host: SessionHost) {
    // Applied on every node; acted on by the leader only.
    host.orchestrator.onChange((_runs, _type, events) => {
      if (!this.leading) return;
      for (const event of events) this.onEvent(event);
    });
  }

  private onEvent(event: OrchEvent): void {
    switch (event.kind) {
      case 'reset': {
        this.host.log.warn({ event: 'worker-reset', workerId: event.workerId, reason: event.reason }, 'asking the worker to reset');
        const session = this.sessions.get(event.workerId);
        if (session !== undefined) this.write(session, { reset: { reason: event.reason } });
        return;
      }
      case 'breaker':
        this.host.log.warn(
          { event: 'breaker-transition', workerId: event.workerId, from: event.from, to: event.to, reason: event.reason },
          `breaker of ${event.workerId}: ${event.from} → ${event.to}`,
        );
        return;
      case 'alert':
        this.host.log.error({ event: 'alert', alert: event.alert, workerId: event.workerId, runId: event.runId, taskId: event.taskId }, event.text);
        this.host.onAlert?.(event);
        return;
    }
  }

  /** Call on every role change: starts or stops the leader's loops. */
  setLeader(leading: boolean): void {
    if (leading === this.leading || this.stopped) return;
    this.leading = leading;
    if (leading) {
      this.leaderSinceMs = this.host.nowMs();
      this.lastSeenMs.clear();
      const ttlCheck = setInterval(() => this.checkTtls(), Math.max(50, Math.floor(this.host.settings.heartbeatIntervalMs / 2)));
      const prune = setInterval(() => this.maybePrune(), 60_000);
      const tick = setInterval(() => this.kick(), 1000);
      const unschedulable = setInterval(() => this.failUnschedulable(), Math.min(5000, Math.max(100, Math.floor(this.host.settings.unschedulableTimeoutMs / 4))));
      for (const t of [ttlCheck, prune, tick, unschedulable]) t.unref();
      this.timers = [ttlCheck, prune, tick, unschedulable];
      this.unschedulableSinceMs.clear();
      this.host.log.info({ event: 'sessions-leading', graceMs: this.host.settings.graceMs }, 'leading: accepting worker sessions');
      this.kick();
    } else {
      this.stopLoops();
      const hint = this.host.leaderHint();
      for (const session of this.sessions.values()) this.endSession(session, { notLeader: hint });
      this.sessions.clear();
      this.pendingResults.clear();
    }
  }

  stop(): void {
    this.stopped = true;
    this.stopLoops();
    for (const session of this.sessions.values()) session.call.end();
    this.sessions.clear();
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** When this leader last heard from the worker (its clock), or undefined. */
  lastHeartbeatMs(workerId: string): number | undefined {
    return this.lastSeenMs.get(workerId);
  }

  /** Workers with a session now. */
  connected(workerId: string): boolean {
    return this.sessions.has(workerId);
  }

  /** Options for a proposal of the leader's own: it waits at most `proposalTimeoutMs`. */
  private deadline(): ProposeOptions {
    return { deadlineMs: this.host.nowMs() + proposalTimeoutMs };
  }

  private stopLoops(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
  }

  // ------------------------------------------------------------- sessions

  handler(): grpc.handleBidiStreamingCall<WorkerMessage, CoordinatorMessage> {
    return (call) => {
      if (this.leading) this.serve(call);
      else void this.redirect(call);
    };
  }

  /**
   * Not leading: send the worker to the leader. During an election there is
   * none to name, so wait (at most `leaderHintWaitMs`) for one to be known
   * rather than send the worker into a backoff; if this node wins meanwhile,
   * it serves the session itself.
   */
  private async redirect(call: SessionCall): Promise<void> {
    const deadlineMs = Date.now() + leaderHintWaitMs;
    let hint = this.host.leaderHint();
    while (hint.leaderId === '' && !this.leading && !this.stopped && !call.cancelled && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, leaderHintPollMs));
      hint = this.host.leaderHint();
    }
    if (this.leading) {
      this.serve(call);
      return;
    }
    if (call.cancelled || call.writableEnded) return;
    call.write({ notLeader: hint });
    call.end();
  }

  /** The leader's side of one session, from `hello` on. */
  private serve(call: SessionCall): void {
    let session: Session | null = null;
    call.on('data', (message: WorkerMessage) => {
      try {
        if (message.hello !== undefined && message.hello !== null) {
          if (session !== null) throw new Error('a session says hello twice');
          void this.onHello(call, message.hello).then((s) => (session = s));
          return;
        }
        if (session === null) throw new Error('the first message of a session must be hello');
        this.lastSeenMs.set(session.workerId, this.host.nowMs());
        if (message.heartbeat !== undefined && message.heartbeat !== null) call.write({ heartbeatAck: { seq: message.heartbeat.seq } });
        if (message.results !== undefined && message.results !== null) this.onResults(session, message.results.results);
        if (message.resetDone !== undefined && message.resetDone !== null) this.onResetDone(session.workerId, message.resetDone.ok, message.resetDone.reason);
      } catch (error) {
        this.host.log.warn({ err: error }, 'worker session protocol error');
        failStream(call, { code: grpc.status.INVALID_ARGUMENT, details: (error as Error).message });
      }
    });
    const closed = (): void => {
      if (session !== null && this.sessions.get(session.workerId) === session) {
        this.sessions.delete(session.workerId);
        this.host.log.info({ workerId: session.workerId }, 'worker session ended');
      }
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('error', closed);
    call.on('close', closed);
  }

  private async onHello(call: SessionCall, hello: NonNullable<WorkerMessage['hello']>): Promise<Session | null> {
    if (hello.clusterId !== '' && hello.clusterId !== this.host.clusterId) {
      // Checked before registering: a worker meant for another cluster leaves no trace in this one.
      this.host.log.warn({ workerId: hello.workerId, workerClusterId: hello.clusterId, clusterId: this.host.clusterId }, 'refused a worker of another cluster');
      failStream(call, { code: grpc.status.FAILED_PRECONDITION, details: `cluster id mismatch: this coordinator belongs to cluster "${this.host.clusterId}", the worker to "${hello.clusterId}"` });
      return null;
    }
    let capabilities: Capabilities;
    try {
      capabilities = JSON.parse(hello.capabilities) as Capabilities;
    } catch {
      failStream(call, { code: grpc.status.INVALID_ARGUMENT, details: 'hello.capabilities is not JSON' });
      return null;
    }
    const keyHash = sessionKeyHash(hello.sessionKey ?? '');
    const bound = this.host.orchestrator.workerKeyHash(hello.workerId);
    // The state machine refuses it too (two racing sessions); checking first spares the log an entry per impostor.
    if (bound !== '' && bound !== keyHash) {
      this.refuseIdentity(call, hello.workerId);
      return null;
    }
    try {
      const { value } = await this.host.proposer.propose({
          type: 'register-worker',
          workerId: hello.workerId,
          name: hello.name,
          capabilities,
          slots: hello.slots,
          httpAddress: hello.httpAddress,
          running: hello.running,
          pending: hello.pending,
          sessionKeyHash: keyHash,
        },
        this.deadline(),
      );
      if (value === null) throw new Error('register-worker gave no outcome');
      const session: Session = { call, workerId: hello.workerId, sent: new Set(hello.running) };
      const old = this.sessions.get(hello.workerId);
      if (old !== undefined && old.call !== call) old.call.end();
      this.sessions.set(hello.workerId, session);
      this.lastSeenMs.set(hello.workerId, this.host.nowMs());
      call.write({
        welcome: { workerId: hello.workerId, leaderId: this.host.nodeId, heartbeatIntervalMs: this.host.settings.heartbeatIntervalMs, ttlMs: this.host.settings.workerTtlMs, clusterId: this.host.clusterId },
      });
      if (value.cancel.length > 0) call.write({ cancel: { attemptIds: [...value.cancel], reason: 'the coordinator does not assign this attempt to this worker' } });
      this.sendOrders(session, value.resend);
      if (value.reset) call.write({ reset: { reason: 'a reset was asked for while the worker was away' } });
      this.host.log.info({ workerId: hello.workerId, slots: hello.slots, resend: value.resend.length, cancel: value.cancel.length }, 'worker registered');
      this.kick();
      return session;
    } catch (error) {
      const rejected = error instanceof InvalidArgumentError;
      if (rejected && error.message.includes(workerIdentityRefusal)) {
        this.refuseIdentity(call, hello.workerId);
        return null;
      }
      this.host.log.warn({ err: error, workerId: hello.workerId }, 'worker registration failed');
      const hint = this.host.leaderHint();
      if (!rejected && hint.leaderId !== this.host.nodeId) call.write({ notLeader: hint });
      failStream(call, { code: rejected ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAVAILABLE, details: `registration failed: ${(error as Error).message}` });
      return null;
    }
  }

  /** Refuses a session under a worker id bound to another session key; the worker holding the id keeps its session. */
  private refuseIdentity(call: SessionCall, workerId: string): void {
    this.host.onSessionRefused?.('identity');
    this.host.log.warn({ event: 'worker-identity-refused', workerId, peer: call.getPeer() }, `refused a session under worker id ${workerId}: the id is bound to another session key`);
    failStream(call, {
      code: grpc.status.PERMISSION_DENIED,
      details: `worker id ${workerId} is registered with another session key (<work dir>/session-key): another worker uses this id, or this work dir lost its key; start with a fresh work dir to register as a new worker`,
    });
  }

  private sendOrders(session: Session, attemptIds: readonly string[]): void {
    const orders: string[] = [];
    for (const attemptId of attemptIds) {
      if (session.sent.has(attemptId)) continue;
      const order = this.host.orchestrator.attemptOrder(attemptId);
      if (order === undefined) continue;
      session.sent.add(attemptId);
      orders.push(JSON.stringify(order));
    }
    if (orders.length > 0) this.write(session, { assign: { orders } });
  }

  private write(session: Session, message: CoordinatorMessage): void {
    if (session.call.writableLength > sessionQueueMax) {
      this.host.log.warn({ workerId: session.workerId }, 'worker session backed up; cutting it (the worker reconnects)');
      this.endSession(session, null);
      return;
    }
    session.call.write(message);
  }

  private endSession(session: Session, last: CoordinatorMessage | null): void {
    if (last !== null) session.call.write(last);
    session.call.end();
    if (this.sessions.get(session.workerId) === session) this.sessions.delete(session.workerId);
  }

  // -------------------------------------------------------------- results

  private onResults(session: Session, raw: readonly string[]): void {
    for (const text of raw) {
      if (this.pendingResults.size >= pendingResultsMax) {
        this.host.log.warn({ pending: this.pendingResults.size }, 'result queue full; the worker will resend');
        break;
      }
      const result = this.acceptableResult(session, text);
      if (result !== null) this.pendingResults.set(result.attemptId, result);
    }
    this.flushResults();
  }

  /**
   * The result to commit for one a worker sent, or null to drop it. A
   * result that breaks a rule but names its attempt becomes an infra error
   * of class malformed-report, so the attempt still ends and the worker's
   * outbox drains; refusing it would have the worker resend it forever.
   */
  private acceptableResult(session: Session, text: string): AttemptResult | null {
    let result: AttemptResult;
    try {
      result = JSON.parse(text) as AttemptResult;
    } catch {
      this.host.log.warn({ workerId: session.workerId }, 'a result is not JSON; dropped');
      return null;
    }
    if (typeof result !== 'object' || result === null || typeof result.attemptId !== 'string' || typeof result.taskId !== 'string') {
      this.host.log.warn({ workerId: session.workerId }, 'a result names no attempt; dropped');
      return null;
    }
    if (result.workerId !== session.workerId) {
      this.host.onResultRefused?.('names-other-worker');
      this.host.log.warn({ workerId: session.workerId, attemptId: result.attemptId, names: result.workerId }, 'a result names another worker; refused');
      return null;
    }
    // Only the worker an attempt was assigned to may report it (an unknown attempt goes on, and apply answers it 'unknown').
    const owner = this.host.orchestrator.attemptWorker(result.attemptId);
    if (owner !== undefined && owner !== session.workerId) {
      this.host.onResultRefused?.('foreign-attempt');
      this.host.log.warn({ workerId: session.workerId, attemptId: result.attemptId, owner }, "a result for another worker's attempt; refused");
      return null;
    }
    const problem = validateResult(result);
    if (problem === null) return result;
    this.host.log.warn({ workerId: session.workerId, attemptId: result.attemptId, problem }, 'an invalid result is recorded as a malformed report');
    return malformedResult(result, `the worker sent an invalid result: ${problem}`);
  }

  private flushResults(): void {
    while (this.leading && this.pendingResults.size > 0 && this.resultBatchesInflight < resultBatchesInflightMax) {
      const batch: AttemptResult[] = [];
      for (const [id, result] of this.pendingResults) {
        batch.push(result);
        this.pendingResults.delete(id);
        if (batch.length >= resultBatchMax) break;
      }
      this.resultBatchesInflight++;
      void this.commitResults(batch).finally(() => {
        this.resultBatchesInflight--;
        this.flushResults();
      });
    }
  }

  private async commitResults(batch: AttemptResult[]): Promise<void> {
    try {
      let value: ResultsOutcome | null;
      try {
        ({ value } = await this.host.proposer.propose({ type: 'results', results: batch }, this.deadline()));
      } catch (error) {
        // Too big for one log entry (the encoder refuses it before proposing): halve the batch, or shrink a lone result.
        if (!(error instanceof RangeError)) throw error;
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          await Promise.all([this.commitResults(batch.slice(0, half)), this.commitResults(batch.slice(half))]);
          return;
        }
        const shrunk = malformedResult(batch[0]!, `the result is too large for the log: ${error.message}`);
        ({ value } = await this.host.proposer.propose({ type: 'results', results: [shrunk] }, this.deadline()));
      }
      const byWorker = new Map<string, string[]>();
      for (const result of batch) {
        const list = byWorker.get(result.workerId) ?? [];
        list.push(result.attemptId);
        byWorker.set(result.workerId, list);
      }
      for (const [workerId, attemptIds] of byWorker) {
        const session = this.sessions.get(workerId);
        if (session !== undefined) this.write(session, { committed: { attemptIds } });
      }
      if (value !== null) this.host.onResults?.(value.statuses);
      const late = value?.statuses.filter((s) => s.status === 'late').length ?? 0;
      if (late > 0) this.host.log.info({ late }, 'late results recorded (not counted)');
      this.kick();
    } catch (error) {
      // Not committed, or the outcome is unknown. Still leading: try again
      // shortly (a duplicate is answered as such, never counted twice). Not
      // leading: the workers resend from their outboxes to the next leader.
      this.host.log.warn({ err: error, results: batch.length }, 'could not commit results');
      if (!this.leading) return;
      for (const result of batch) if (!this.pendingResults.has(result.attemptId) && this.pendingResults.size < pendingResultsMax) this.pendingResults.set(result.attemptId, result);
      await new Promise((resolve) => setTimeout(resolve, resultRetryDelayMs).unref());
    }
  }

  // ------------------------------------------------------------ scheduler

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    if (!this.leading || this.scheduleQueued) return;
    this.scheduleQueued = true;
    setImmediate(() => {
      this.scheduleQueued = false;
      void this.schedule();
    });
  }

  private async schedule(): Promise<void> {
    if (!this.leading || this.assignInflight) return;
    const orchestrator = this.host.orchestrator;
    const nowMs = this.host.nowMs();
    const workers = orchestrator.schedulableWorkers(nowMs, (id) => this.sessions.has(id));
    const plan = planAssignments({
      queue: orchestrator.queuedTasks(),
      workers,
      runLoad: (runId) => orchestrator.runLoad(runId),
      nowMs,
      limits: scheduleLimitsDefault,
    });
    if (plan.length === 0) {
      this.armBackoffTimer(nowMs);
      return;
    }
    this.assignInflight = true;
    try {
      const { value } = await this.host.proposer.propose({ type: 'assign', assignments: plan }, this.deadline());
      const byWorker = new Map<string, string[]>();
      const queuedMs: number[] = [];
      for (const a of value?.assigned ?? []) {
        if (a.attemptId.endsWith('.a1')) queuedMs.push(nowMs - (this.host.orchestrator.taskQueuedAtMs(a.taskId) ?? nowMs));
        const list = byWorker.get(a.workerId) ?? [];
        list.push(a.attemptId);
        byWorker.set(a.workerId, list);
      }
      for (const [workerId, attemptIds] of byWorker) {
        const session = this.sessions.get(workerId);
        if (session !== undefined) this.sendOrders(session, attemptIds);
      }
      if (queuedMs.length > 0) this.host.onDispatched?.(queuedMs);
    } catch (error) {
      this.host.log.warn({ err: error }, 'assignment not committed');
    } finally {
      this.assignInflight = false;
    }
    this.kick();
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

  // ----------------------------------------------------------------- TTLs

  private checkTtls(): void {
    if (!this.leading) return;
    const nowMs = this.host.nowMs();
    this.checkResets(nowMs);
    const { workerTtlMs, graceMs } = this.host.settings;
    for (const worker of this.host.orchestrator.listWorkers()) {
      if (worker.state === 'lost' || this.lostInflight.has(worker.workerId)) continue;
      const seen = this.lastSeenMs.get(worker.workerId) ?? this.leaderSinceMs;
      const deadline = Math.max(seen + workerTtlMs, this.leaderSinceMs + graceMs);
      if (nowMs <= deadline) continue;
      this.lostInflight.add(worker.workerId);
      const reason = `no heartbeat for ${nowMs - seen} ms (TTL ${workerTtlMs} ms)`;
      this.host.log.warn({ event: 'worker-lost', workerId: worker.workerId, reason }, 'declaring worker lost');
      void this.host.proposer.propose({ type: 'worker-lost', workerId: worker.workerId, reason }, this.deadline())
        .then(() => {
          const session = this.sessions.get(worker.workerId);
          if (session !== undefined) this.endSession(session, null);
          this.kick();
        })
        .catch((error: unknown) => this.host.log.warn({ err: error, workerId: worker.workerId }, 'could not declare worker lost'))
        .finally(() => this.lostInflight.delete(worker.workerId));
    }
  }

  /**
   * Ends tasks no registered worker has been able to run for
   * `unschedulableTimeoutMs` (invariant 5: every task ends), naming the
   * requirements nobody meets. Workers that register in time save them.
   */
  private failUnschedulable(): void {
    if (!this.leading || this.failInflight) return;
    const nowMs = this.host.nowMs();
    const stuck = this.host.orchestrator.unschedulableTasks(unschedulableBatchMax * 4);
    const current = new Set(stuck.map((t) => t.taskId));
    for (const id of this.unschedulableSinceMs.keys()) if (!current.has(id)) this.unschedulableSinceMs.delete(id);
    const expired: string[] = [];
    let requirements = '';
    for (const task of stuck) {
      const since = this.unschedulableSinceMs.get(task.taskId) ?? nowMs;
      this.unschedulableSinceMs.set(task.taskId, since);
      if (nowMs - since >= this.host.settings.unschedulableTimeoutMs && expired.length < unschedulableBatchMax) {
        expired.push(task.taskId);
        requirements = JSON.stringify(task.requirements);
      }
    }
    if (expired.length === 0) return;
    this.failInflight = true;
    const reason = `unschedulable: no registered worker met the requirements ${requirements} for ${Math.round(this.host.settings.unschedulableTimeoutMs / 1000)} s`;
    this.host.log.warn({ tasks: expired.length, reason }, 'ending unschedulable tasks');
    void this.host.proposer.propose({ type: 'fail-tasks', taskIds: expired, reason }, this.deadline())
      .then(() => {
        for (const id of expired) this.unschedulableSinceMs.delete(id);
      })
      .catch((error: unknown) => this.host.log.warn({ err: error }, 'could not end unschedulable tasks'))
      .finally(() => (this.failInflight = false));
  }

  private onResetDone(workerId: string, ok: boolean, reason: string): void {
    if (this.resetDoneInflight.has(workerId)) return;
    this.resetDoneInflight.add(workerId);
    void this.host.proposer.propose({ type: 'worker-reset-done', workerId, ok, reason: reason.slice(0, 1000) || (ok ? 'reset done' : 'reset failed') }, this.deadline())
      .then(() => {
        this.host.log.info({ workerId, ok }, ok ? 'worker reset done; it takes work again' : 'worker reset failed');
        this.kick();
      })
      .catch((error: unknown) => this.host.log.warn({ err: error, workerId }, 'could not record the end of a reset'))
      .finally(() => this.resetDoneInflight.delete(workerId));
  }

  /** A worker that never reports its reset done is quarantined rather than kept out forever. */
  private checkResets(nowMs: number): void {
    for (const worker of this.host.orchestrator.listWorkers()) {
      // A lost worker is asked again when it comes back, with a fresh timeout.
      if (!worker.resetting || worker.state === 'lost') continue;
      const since = this.host.orchestrator.resetSinceMs(worker.workerId);
      if (nowMs - since > this.host.settings.resetTimeoutMs) this.onResetDone(worker.workerId, false, `no reset_done within ${this.host.settings.resetTimeoutMs} ms`);
    }
  }

  private maybePrune(): void {
    if (!this.leading || this.pruneInflight) return;
    const before = this.host.nowMs() - this.host.settings.runRetentionMs;
    if (this.host.orchestrator.prunableBefore(before) === 0) return;
    this.pruneInflight = true;
    void this.host.proposer.propose({ type: 'prune-runs', finishedBeforeMs: before }, this.deadline())
      .then(({ value }) => this.host.log.info({ pruned: value?.pruned.length ?? 0 }, 'pruned finished runs past retention'))
      .catch((error: unknown) => this.host.log.warn({ err: error }, 'prune failed'))
      .finally(() => (this.pruneInflight = false));
  }

  // ------------------------------------------------------------ cancels

  /** Tells workers to stop attempts a committed cancel-run ended. */
  pushCancels(outcome: CancelOutcome, reason: string): void {
    const byWorker = new Map<string, string[]>();
    for (const c of outcome.cancelled) byWorker.set(c.workerId, [...(byWorker.get(c.workerId) ?? []), c.attemptId]);
    for (const [workerId, attemptIds] of byWorker) {
      const session = this.sessions.get(workerId);
      if (session !== undefined) this.write(session, { cancel: { attemptIds, reason } });
    }
    this.kick();
  }
}
