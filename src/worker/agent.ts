import { authorizationKey, bearer, loadOrCreateSessionKey } from '../security/auth-token.js';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { AddressRoutes } from '../client/routes.js';
import { isAbsolute, join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { testudoServices, type TestudoServices } from '../common/testudo-proto.js';
import { tracer } from '../common/trace.js';
import type { AttemptOrder, AttemptResult, Capabilities, CoordinatorMessageReceived, WorkerMessage } from '../model/index.js';
import type { WorkerChaosHooks } from './chaos-hooks.js';
import { AttemptFiles } from './attempt-files.js';
import { zeroPhaseSeconds, type AttemptPhaseTotals } from './attempt-phases.js';
import { runAttempt, type AttemptPhases } from './executor.js';
import { acquireWorkDirLock, loadOrCreateWorkerId, type WorkDirLock } from './identity.js';
import { Outbox, outboxDir } from './outbox.js';
import { TaskGroups } from './orphans.js';
import { SetupCache } from './setup-cache.js';

/**
 * The worker agent: one session with the coordinators' leader, tasks run as
 * process groups, results kept in the outbox (fsync) until the leader says
 * they are committed.
 *
 * Session protocol: the worker sends `hello` and waits for `welcome` (or
 * `not_leader`, whose hint it dials next); only then does it send heartbeats
 * and results. Every result in the outbox is sent on every new session, so a
 * coordinator failover or a worker restart loses none; the state machine
 * counts each attempt's result once. Running tasks are untouched by a
 * session's loss.
 *
 * Orders beyond the free slots (prefetched by the leader while its queue is
 * long, or sent again after a restart) wait in a local queue, in the order
 * they came, and start as slots free: no round trip to the leader between
 * one task's end and the next one's start. The queue lives in memory only;
 * every hello names it with the running attempts, and a restarted worker,
 * which lost it, is sent those orders again (register-worker's resend).
 */

export type ExecutorKind = 'process' | 'noop';

export interface WorkerAgentOptions {
  readonly coordinators: readonly string[];
  readonly workDir: string;
  readonly capabilities: Capabilities;
  readonly slots: number;
  readonly name?: string;
  /** Tasks' checkout; default: the run's source directory (same machine or shared filesystem). */
  readonly checkoutRoot?: string;
  /** `noop` completes every task at once without spawning (scheduler benchmarks only). */
  readonly executor?: ExecutorKind;
  /** `host:port` of this worker's HTTP server, told to the coordinators (for logs). */
  readonly httpAddress?: string;
  readonly logger: Logger;
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  readonly killGraceMs?: number;
  /** Where to dial when a coordinator address is meant (chaos runs route each link through a proxy). */
  readonly routes?: AddressRoutes;
  /** Credentials of the channels to the coordinators (TLS, security/tls.ts); default plaintext. */
  readonly credentials?: grpc.ChannelCredentials;
  /** Fault injection per attempt (`--chaos-hooks`, chaos runs only). */
  readonly chaos?: WorkerChaosHooks;
  /** The outbox syncs a result still unconfirmed this long after it was written; 0: before it is sent (outbox.ts, "Deferred sync"). */
  readonly outboxSyncMs?: number;
  /** Bounds on finished attempts' files kept in the work dir (attempt-files.ts). */
  readonly attemptDirsMax?: number;
  readonly attemptRetentionMs?: number;
  /** The worker token (`--token-file`), sent as `authorization: Bearer` on every session; absent: an open cluster. */
  readonly token?: string;
  /**
   * The cluster this worker joins (`--cluster-id`): sent in `hello`, and a
   * welcome from another cluster (or one that names none) ends the session
   * unused. Absent: any cluster's leader is served.
   */
  readonly clusterId?: string;
}

/** Orders held beyond the running ones (the leader sends at most slots × (1 + prefetchPerSlot)); more are dropped and come back with the next session. */
export const ordersQueuedMax = 4096;
/** Results per message to the leader. */
export const resultsPerMessageMax = 256;
/** Longest a reset waits for running attempts before it cancels them. */
export const resetWaitMs = 10 * 60 * 1000;
/** A sent result not confirmed within this long is sent again. */
export const resultConfirmTimeoutMs = 10_000;
/** Distinct coordinator channels kept (leader hints may name new ones). */
export const channelsMax = 16;
/** Reconnect backoff defaults: full jitter up to min(max, base × 2^failures). */
export const reconnectBaseMsDefault = 50;
export const reconnectMaxMsDefault = 1000;
/**
 * Longest a session waits for `welcome` or `not_leader` after `hello`
 * (registration is one commit; a coordinator holds a session at most 2 s
 * while it learns who leads). Past it the session is given up and the next
 * coordinator dialled.
 */
export const welcomeTimeoutMs = 5000;
/** gRPC keepalive: ping every this often, and drop a connection whose ping is unanswered within the timeout. */
export const keepaliveTimeMs = 2000;
export const keepaliveTimeoutMs = 1000;
/** grpc-js's own reconnect backoff (its default grows to 120 s: a restarted coordinator would stay unused that long). */
export const channelReconnectBaseMs = 100;
export const channelReconnectMaxMs = 1000;
/** A coordinator that stays unreachable is reported at warn level at most this often. */
export const unreachableWarnIntervalMs = 30_000;

interface Running {
  readonly order: AttemptOrder;
  readonly abort: AbortController;
}

type WorkerClient = InstanceType<TestudoServices['Worker']>;
/** The worker's end of a session (its messages: src/model/session.ts). */
type SessionStream = grpc.ClientDuplexStream<WorkerMessage, CoordinatorMessageReceived>;

export interface WorkerStats {
  readonly connected: boolean;
  readonly leaderId: string;
  readonly running: number;
  readonly outbox: number;
  /** Of those, results written but not synced yet (the outbox's deferred sync); absent: 0. */
  readonly outboxUnsynced?: number;
  /** fdatasync/fsync calls of the outbox since the process started; absent: 0. */
  readonly outboxSyncs?: number;
  readonly finished: number;
  readonly sessions: number;
  /** Orders waiting for a slot (prefetched). */
  readonly queued?: number;
  /** Attempts whose command ran, with the seconds they spent in each phase on this worker, summed since the process started; absent: none. */
  readonly attemptPhases?: AttemptPhaseTotals;
}

export class WorkerAgent {
  readonly workerId: string;
  private readonly running = new Map<string, Running>();
  /** Orders waiting for a free slot, oldest first. */
  private readonly queued = new Map<string, AttemptOrder>();
  private readonly channels = new Map<string, WorkerClient>();
  private stream: SessionStream | null = null;
  private connectedValue = false;
  private leaderId = '';
  private hint = '';
  private rotation = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private finishedCount = 0;
  private readonly phaseTotals = { attempts: 0, seconds: zeroPhaseSeconds() };
  private sessionCount = 0;
  private wake: (() => void) | null = null;
  /** When each unconfirmed result was last sent. */
  private readonly sentAtMs = new Map<string, number>();
  private resetting = false;
  private attemptFiles: AttemptFiles | null = null;
  /** Results kept in the outbox this event-loop turn, sent together when it ends (see queueResult). */
  private readonly resultsThisTurn: AttemptResult[] = [];
  /** Address → when its unreachability was last reported at warn level. */
  private readonly unreachableWarnedAtMs = new Map<string, number>();
  /** Binds the worker id to this work dir (<workDir>/session-key); sent in every hello. */
  private sessionKey = '';
  /** Attempts the previous worker process on this work dir died with; named in every hello (the leader ignores ones it has dealt with). */
  private interrupted: readonly string[] = [];
  /** This process's boot id: a new one under the worker's id tells the leader it restarted. */
  private readonly bootId = randomBytes(8).toString('hex');

  private constructor(
    private readonly options: WorkerAgentOptions,
    workerId: string,
    private readonly outbox: Outbox,
    private readonly setup: SetupCache,
    private readonly groups: TaskGroups,
    private readonly lock: WorkDirLock,
    private readonly log: Logger,
  ) {
    this.workerId = workerId;
  }

  static async start(options: WorkerAgentOptions): Promise<WorkerAgent> {
    if (options.coordinators.length === 0) throw new Error('no coordinators given');
    const lock = await acquireWorkDirLock(options.workDir);
    try {
      const workerId = await loadOrCreateWorkerId(options.workDir);
      const outbox = await Outbox.open(outboxDir(options.workDir), options.outboxSyncMs === undefined ? {} : { syncDelayMs: options.outboxSyncMs });
      const log = options.logger.child({ workerId });
      for (const problem of outbox.problems) log.error({ problem }, 'outbox file unusable; moved aside');
      const setup = new SetupCache({ workDir: options.workDir, killGraceMs: options.killGraceMs });
      const groups = new TaskGroups(options.workDir);
      const leftovers = await groups.killLeftovers();
      if (leftovers.killed > 0) log.warn({ killed: leftovers.killed }, 'killed task process groups a previous worker left running');
      const agent = new WorkerAgent(options, workerId, outbox, setup, groups, lock, log);
      agent.interrupted = leftovers.interrupted;
      agent.sessionKey = await loadOrCreateSessionKey(options.workDir);
      // The no-op executor writes no attempt files: nothing to keep or prune.
      agent.attemptFiles = options.executor === 'noop' ? null : await AttemptFiles.open(options.workDir, options);
      log.info({ slots: options.slots, outbox: outbox.size, coordinators: options.coordinators }, 'worker starting');
      agent.loop = agent.sessionLoop();
      return agent;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  stats(): WorkerStats {
    const outbox = this.outbox.stats();
    return {
      connected: this.connectedValue,
      leaderId: this.leaderId,
      running: this.running.size,
      outbox: this.outbox.size,
      outboxUnsynced: outbox.unsynced,
      outboxSyncs: outbox.syncs,
      finished: this.finishedCount,
      sessions: this.sessionCount,
      queued: this.queued.size,
      attemptPhases: { attempts: this.phaseTotals.attempts, seconds: { ...this.phaseTotals.seconds } },
    };
  }

  /** Stops: running attempts are cancelled (their results stay in the outbox for the next start). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Queued orders stay assigned: the next start (or the leader, when this worker is lost) takes them over.
    this.queued.clear();
    for (const r of this.running.values()) r.abort.abort();
    // Cancelled tasks get SIGTERM, then SIGKILL after the grace period.
    const deadline = Date.now() + (this.options.killGraceMs ?? 5000) + 5000;
    while (this.running.size > 0 && Date.now() < deadline) await sleep(20);
    this.stream?.cancel();
    this.wake?.();
    await this.loop;
    for (const c of this.channels.values()) c.close();
    await this.outbox.close();
    await this.lock.release();
    this.log.info('worker stopped');
  }

  // -------------------------------------------------------------- session

  private async sessionLoop(): Promise<void> {
    const baseMs = this.options.reconnectBaseMs ?? reconnectBaseMsDefault;
    const maxMs = this.options.reconnectMaxMs ?? reconnectMaxMsDefault;
    let failures = 0;
    while (!this.stopped) {
      const address = this.nextAddress();
      const outcome = await this.runSession(address);
      if (this.stopped) break;
      if (outcome === 'welcomed') failures = 0;
      else if (outcome !== 'redirected') failures++;
      if (outcome === 'redirected') continue;
      // Full jitter: a fleet reconnecting after a failover spreads out.
      const capMs = Math.min(maxMs, baseMs * 2 ** Math.min(failures, 16));
      await this.sleepInterruptibly(Math.floor(Math.random() * capMs) + 20);
    }
  }

  private nextAddress(): string {
    if (this.hint !== '') {
      const hint = this.hint;
      this.hint = '';
      return hint;
    }
    const list = this.options.coordinators;
    const address = list[this.rotation % list.length]!;
    this.rotation++;
    return address;
  }

  private client(address: string): WorkerClient {
    let c = this.channels.get(address);
    if (c === undefined) {
      if (this.channels.size >= channelsMax) {
        for (const old of this.channels.values()) old.close();
        this.channels.clear();
      }
      const { Worker } = testudoServices();
      c = new Worker((this.options.routes ?? AddressRoutes.none).dial(address), this.options.credentials ?? grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        'grpc.keepalive_time_ms': keepaliveTimeMs,
        'grpc.keepalive_timeout_ms': keepaliveTimeoutMs,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': channelReconnectBaseMs,
        'grpc.max_reconnect_backoff_ms': channelReconnectMaxMs,
      });
      this.channels.set(address, c);
    }
    return c;
  }

  /** One session: resolves when it ends. */
  private runSession(address: string): Promise<'welcomed' | 'redirected' | 'failed'> {
    return new Promise((resolve) => {
      const metadata = new grpc.Metadata();
      if (this.options.token !== undefined) metadata.set(authorizationKey, bearer(this.options.token));
      const stream: SessionStream = this.client(address).Session(metadata);
      this.stream = stream;
      let welcomed = false;
      let redirected = false;
      let heartbeat: NodeJS.Timeout | null = null;
      let lastAckMs = Date.now();
      let seq = 0;
      let ttlMs = 10_000;
      let done = false;
      const welcomeTimer = setTimeout(() => {
        this.log.warn({ address, timeoutMs: welcomeTimeoutMs }, 'no welcome from the coordinator; trying another');
        stream.cancel();
      }, welcomeTimeoutMs);
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(welcomeTimer);
        if (heartbeat !== null) clearInterval(heartbeat);
        heartbeat = null;
        if (this.stream === stream) this.stream = null;
        this.connectedValue = false;
        resolve(welcomed ? 'welcomed' : redirected ? 'redirected' : 'failed');
      };
      stream.on('data', (message: CoordinatorMessageReceived) => {
        if (message.notLeader || message.welcome) clearTimeout(welcomeTimer);
        if (message.notLeader) {
          redirected = message.notLeader.leaderAddress !== '' && message.notLeader.leaderAddress !== address;
          this.hint = message.notLeader.leaderAddress;
          stream.cancel();
          return;
        }
        if (message.welcome && !this.sameCluster(address, message.welcome.clusterId)) {
          stream.cancel();
          return;
        }
        if (message.welcome) {
          welcomed = true;
          this.sessionCount++;
          this.connectedValue = true;
          this.leaderId = message.welcome.leaderId;
          ttlMs = message.welcome.ttlMs;
          lastAckMs = Date.now();
          this.unreachableWarnedAtMs.delete(address);
          this.log.info({ leader: message.welcome.leaderId, address }, 'session open');
          heartbeat = setInterval(() => {
            // A leader that stops answering (partitioned, paused) is left for another.
            if (Date.now() - lastAckMs > ttlMs) {
              this.log.warn({ address }, 'no heartbeat answer within the TTL; reconnecting');
              stream.cancel();
              return;
            }
            stream.write({ heartbeat: { seq: ++seq } });
            this.resendUnconfirmed();
          }, Math.max(50, message.welcome.heartbeatIntervalMs));
          this.sendResults(this.outbox.pending());
          return;
        }
        if (message.heartbeatAck) lastAckMs = Date.now();
        if (message.assign) this.onAssign(message.assign.orders);
        if (message.cancel) this.onCancel(message.cancel.attemptIds, message.cancel.reason);
        if (message.committed) void this.onCommitted(message.committed.attemptIds);
        if (message.reset) void this.onReset(message.reset.reason);
      });
      stream.on('error', (error: grpc.ServiceError) => {
        if (this.stopped || error.code === grpc.status.CANCELLED) return;
        // A refusal (bad registration) needs an operator; a lost connection does not.
        const refused =
          error.code === grpc.status.INVALID_ARGUMENT ||
          error.code === grpc.status.FAILED_PRECONDITION ||
          error.code === grpc.status.PERMISSION_DENIED ||
          error.code === grpc.status.UNAUTHENTICATED;
        if (refused) this.log.error({ address, code: grpc.status[error.code], err: error.details }, 'the coordinator refused this worker');
        else if (!welcomed && error.code === grpc.status.UNAVAILABLE) this.warnUnreachable(address, error);
        else this.log.debug({ address, err: error.message }, 'session failed');
      });
      // grpc-js reports every call's end with 'status' (after 'error' on failure).
      stream.on('status', finish);
      stream.on('close', finish);
      stream.on('end', () => stream.cancel());
      stream.write({
        hello: {
          workerId: this.workerId,
          name: this.options.name ?? this.workerId,
          slots: this.options.slots,
          httpAddress: this.options.httpAddress ?? '',
          capabilities: JSON.stringify(this.options.capabilities),
          running: [...this.running.keys(), ...this.queued.keys()],
          pending: this.outbox.pending().map((r) => r.attemptId),
          interrupted: [...this.interrupted],
          bootId: this.bootId,
          uncleanStart: this.lock.uncleanStart,
          version: '1',
          sessionKey: this.sessionKey,
          clusterId: this.options.clusterId ?? '',
        },
      });
    });
  }

  /** False (and says so) when this worker was given a cluster id and the welcome names another. */
  private sameCluster(address: string, clusterId: string): boolean {
    const expected = this.options.clusterId;
    if (expected === undefined || expected === clusterId) return true;
    this.log.error({ address, clusterId, expected }, 'the coordinator belongs to another cluster; leaving the session');
    return false;
  }

  /** Says, at warn level and at most every `unreachableWarnIntervalMs` per address, that a coordinator cannot be reached. */
  private warnUnreachable(address: string, error: grpc.ServiceError): void {
    const now = Date.now();
    const last = this.unreachableWarnedAtMs.get(address);
    if (last !== undefined && now - last < unreachableWarnIntervalMs) {
      this.log.debug({ address, err: error.message }, 'coordinator still unreachable');
      return;
    }
    if (this.unreachableWarnedAtMs.size >= channelsMax) this.unreachableWarnedAtMs.clear();
    this.unreachableWarnedAtMs.set(address, now);
    this.log.warn({ address, err: error.message }, `cannot reach the coordinator at ${address}: ${error.details || error.message}`);
  }

  /**
   * Sends again results the leader has not confirmed within
   * `resultConfirmTimeoutMs` (a proposal it lost), so a result never waits
   * for the next session to be delivered.
   */
  private resendUnconfirmed(): void {
    const now = Date.now();
    const stale = this.outbox.pending().filter((r) => now - (this.sentAtMs.get(r.attemptId) ?? 0) > resultConfirmTimeoutMs);
    if (stale.length > 0) this.sendResults(stale);
  }

  private sendResults(results: readonly AttemptResult[]): void {
    const stream = this.stream;
    if (stream === null || !this.connectedValue) return;
    const now = Date.now();
    for (const r of results) this.sentAtMs.set(r.attemptId, now);
    // Forget send times of confirmed results (bounded by the outbox size).
    if (this.sentAtMs.size > this.outbox.size + results.length) for (const id of this.sentAtMs.keys()) if (!this.outbox.has(id)) this.sentAtMs.delete(id);
    for (let i = 0; i < results.length; i += resultsPerMessageMax) {
      stream.write({ results: { results: results.slice(i, i + resultsPerMessageMax).map((r) => JSON.stringify(r)) } });
    }
  }

  private async onCommitted(attemptIds: readonly string[]): Promise<void> {
    try {
      await this.outbox.confirm(attemptIds);
    } catch (error) {
      this.log.error({ err: error }, 'could not remove confirmed results from the outbox');
    }
    // Confirmed results free their attempts' files for pruning.
    await this.attemptFiles
      ?.afterCommitted(attemptIds, Date.now(), [...this.running.keys(), ...this.outbox.attemptIds()])
      .catch((error: unknown) => this.log.warn({ err: error }, "could not remove old attempts' files"));
  }

  /**
   * Recovery level 3: let the running attempts finish (the leader assigns
   * nothing new meanwhile), clean the work dir's attempt files and forget
   * every setup, so the next task sets up from scratch; then say so. The
   * executor holds no state between attempts, so there is nothing else to
   * restart.
   */
  private async onReset(reason: string): Promise<void> {
    if (this.resetting) return;
    this.resetting = true;
    this.log.warn({ reason }, 'resetting: waiting for running attempts, then cleaning the work dir');
    let ok = true;
    let outcome = 'attempt files removed and setup markers dropped';
    try {
      const deadline = Date.now() + resetWaitMs;
      while (this.running.size > 0 && Date.now() < deadline && !this.stopped) await sleep(100);
      if (this.running.size > 0) {
        for (const r of this.running.values()) r.abort.abort();
        outcome = `${outcome}; ${this.running.size} attempts still running after ${resetWaitMs} ms were cancelled`;
      }
      await rm(join(this.options.workDir, 'attempts'), { recursive: true, force: true });
      await this.setup.clear();
    } catch (error) {
      ok = false;
      outcome = `the reset failed: ${(error as Error).message}`;
      this.log.error({ err: error }, 'reset failed');
    } finally {
      this.resetting = false;
    }
    this.startQueued();
    this.log.info({ ok, outcome }, 'reset done');
    if (this.connectedValue) this.stream?.write({ resetDone: { ok, reason: outcome } });
  }

  private onCancel(attemptIds: readonly string[], reason: string): void {
    for (const id of attemptIds) {
      // Not started: nothing to stop, and the leader expects no result.
      if (this.queued.delete(id)) this.log.info({ attemptId: id, reason }, 'dropping a queued attempt');
      const r = this.running.get(id);
      if (r === undefined) continue;
      this.log.info({ attemptId: id, reason }, 'cancelling attempt');
      r.abort.abort();
    }
  }

  // ---------------------------------------------------------------- tasks

  private onAssign(raw: readonly string[]): void {
    tracer?.event('worker.recv', `orders=${raw.length}`);
    for (const text of raw) {
      let order: AttemptOrder;
      try {
        order = JSON.parse(text) as AttemptOrder;
      } catch {
        this.log.error('an assignment is not JSON; ignored');
        continue;
      }
      if (this.running.has(order.attemptId) || this.queued.has(order.attemptId)) continue;
      if (this.outbox.has(order.attemptId)) {
        // Finished already; the result is (re)sent with the outbox.
        this.sendResults(this.outbox.pending().filter((r) => r.attemptId === order.attemptId));
        continue;
      }
      if (this.queued.size >= ordersQueuedMax) {
        this.log.error({ attemptId: order.attemptId, queued: this.queued.size }, 'order queue full; the order comes back with the next session');
        continue;
      }
      this.queued.set(order.attemptId, order);
    }
    this.startQueued();
  }

  /** Starts queued orders, oldest first, while slots are free (not while resetting or stopping). */
  private startQueued(): void {
    while (this.running.size < this.options.slots && !this.resetting && !this.stopped) {
      const next = this.queued.entries().next();
      if (next.done === true) return;
      const [attemptId, order] = next.value;
      this.queued.delete(attemptId);
      const running: Running = { order, abort: new AbortController() };
      this.running.set(attemptId, running);
      // Its timeout, and its startedAtMs, count from here (executor.ts), not from its assignment.
      tracer?.event('worker.start', `attempt=${attemptId}`);
      void this.runOrder(running);
    }
  }

  private async runOrder({ order, abort }: Running): Promise<void> {
    // Recorded before anything runs, so a successor started after a crash can name the attempts this process died with.
    const recorded = this.options.executor !== 'noop';
    if (recorded) this.tryGroups('could not record an attempt as begun', () => this.groups.began(order.attemptId));
    let result: AttemptResult;
    let phases: AttemptPhases | null = null;
    try {
      result = await this.execute(order, abort, (p) => (phases = p));
    } catch (error) {
      const now = Date.now();
      result = infraResult(order, this.workerId, 'spawn-error', `the worker failed to run the attempt: ${(error as Error).message}`, now, now);
    }
    const resultAt = performance.now();
    try {
      await this.outbox.put(result);
    } catch (error) {
      // Without the outbox the result is still sent; it is lost only if this session also fails.
      this.log.error({ err: error, attemptId: order.attemptId }, 'could not keep the result in the outbox');
    }
    // After the outbox has the result: a crash in between leaves the attempt named and pending, which the leader reads as finished.
    if (recorded) this.tryGroups('could not forget a finished attempt', () => this.groups.forget(order.attemptId));
    if (phases !== null) this.addPhases(phases, performance.now() - resultAt);
    this.running.delete(order.attemptId);
    this.finishedCount++;
    this.startQueued();
    this.queueResult(result);
  }

  /**
   * Sends `result` at the end of this event-loop turn, with every other
   * result kept in the outbox in the same turn: the outbox syncs its puts in
   * groups, so attempts that end together resume together, and one message
   * carries them all instead of one message (and one receive on the leader)
   * each. A result not sent (no session) is still in the outbox, and the
   * next session's welcome sends it.
   */
  private queueResult(result: AttemptResult): void {
    this.resultsThisTurn.push(result);
    if (this.resultsThisTurn.length > 1) return;
    setImmediate(() => this.sendResults(this.resultsThisTurn.splice(0)));
  }

  /** A task-group record's write or removal: its failure is logged, and the attempt goes on. */
  private tryGroups(failure: string, change: () => void): void {
    try {
      change();
    } catch (error) {
      this.log.warn({ err: error }, failure);
    }
  }

  private addPhases(phases: AttemptPhases, reportMs: number): void {
    const s = this.phaseTotals.seconds;
    this.phaseTotals.attempts++;
    s.prepare += phases.prepareMs / 1000;
    s.spawn += phases.spawnMs / 1000;
    s.command += phases.commandMs / 1000;
    s.collect += phases.collectMs / 1000;
    s.report += reportMs / 1000;
  }

  /** Runs the order; `abort` cancels it (its signal is made only when a process runs: making one costs tens of microseconds). */
  private async execute(order: AttemptOrder, abort: AbortController, onPhases: (phases: AttemptPhases) => void): Promise<AttemptResult> {
    const startedAtMs = Date.now();
    if (this.options.executor === 'noop') return { ...infraResult(order, this.workerId, '', '', startedAtMs, Date.now()), outcome: 'passed', infraClass: '' };
    const checkoutDir = this.checkoutDir(order);
    const chaos = this.options.chaos;
    if (order.setup.length > 0) {
      const setup = await this.setup.ensureSetup({ commands: order.setup, cacheKey: order.setupCacheKey, checkoutDir });
      if (!setup.ok) {
        return { ...infraResult(order, this.workerId, 'setup-failure', `setup failed: ${setup.reason}`, startedAtMs, Date.now()), outputTail: setup.outputTail };
      }
    }
    const result = await runAttempt(
      {
        attemptId: order.attemptId,
        taskId: order.taskId,
        runId: order.runId,
        workerId: this.workerId,
        attempt: order.number,
        template: order.template,
        files: order.files,
        checkoutDir,
      },
      {
        workDir: this.options.workDir,
        signal: abort.signal,
        onStarted: (pid) => this.tryGroups('could not record a task process group', () => this.groups.record(order.attemptId, pid)),
        ...(this.options.killGraceMs === undefined ? {} : { killGraceMs: this.options.killGraceMs }),
        spawnRetries: order.spawnRetries ?? 0,
        onPhases,
        // A start retried in place draws its chaos fault again.
        ...(chaos === undefined ? {} : { chaos: () => chaos.planAttempt(order.attemptId) }),
      },
    );
    return result;
  }

  private checkoutDir(order: AttemptOrder): string {
    const root = this.options.checkoutRoot;
    if (root === undefined || root === '') return order.sourceDir;
    return isAbsolute(root) ? root : join(process.cwd(), root);
  }

  private sleepInterruptibly(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

function infraResult(order: AttemptOrder, workerId: string, infraClass: AttemptResult['infraClass'], reason: string, startedAtMs: number, finishedAtMs: number): AttemptResult {
  return {
    attemptId: order.attemptId,
    taskId: order.taskId,
    workerId,
    outcome: 'infra-error',
    infraClass,
    reason,
    exitCode: null,
    signal: '',
    startedAtMs,
    finishedAtMs,
    tests: [],
    outputTail: '',
    logBytes: 0,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
