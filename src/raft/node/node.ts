import { randomInt } from 'node:crypto';
import { decodeConfChange } from '../core/conf-change.js';
import { RaftCore, type RaftStatus } from '../core/core.js';
import type { ProgressRegression } from '../core/progress.js';
import { DEFAULTS as RAFT_DEFAULTS, type RaftConfig } from '../core/config.js';
import { assert } from '../core/errors.js';
import type { LevelDbStorage } from '../storage/leveldb-storage.js';
import { NodeOverloadedError, NodeStoppedError, ProposalDroppedError, TransferTimeoutError } from './node-errors.js';
import { ReadQueue, readTimeoutTicksDefault } from './reads.js';
import { SeededRng } from '../../common/rand.js';
import { tracer } from '../../common/trace.js';
import type { Transport, TransportHandler } from '../transport/transport.js';
import { EntryType, NO_NODE, type ConfChange, type Entry, type HardState, type Message, type NodeId, type Ready, type Role } from '../core/types.js';
import { hardStateToWrite } from './ready-write.js';
import { SnapshotScheduler } from './snapshots.js';
import type { StateMachine } from './state-machine.js';

/** What a node reports as it runs; every method is optional and must not throw. */
export interface RaftNodeObserver {
  /** One Ready was persisted: its duration, entries, and whether it was synced. */
  onPersist?(seconds: number, entries: number, synced: boolean): void;
  /** After each Ready: the node's volatile view. */
  onState?(state: { term: number; commit: number; applied: number; leader: NodeId; role: Role }): void;
  onProposalsApplied?(count: number): void;
  /**
   * A proposal made on this node (so, on the leader) was committed and
   * applied here `seconds` after `propose()` accepted it; once per proposal.
   */
  onProposalCommitted?(seconds: number): void;
  onProposalFailed?(error: Error): void;
  onPendingProposals?(count: number): void;
  onSnapshotSaved?(seconds: number, index: number): void;
  onSnapshotRestored?(seconds: number, index: number): void;
  /**
   * Leader: a follower's log went back below what it acknowledged (once per
   * occurrence), or, with null, no longer looks so (reset, or a false alarm).
   */
  onFollowerRegressed?(follower: NodeId, regression: ProgressRegression | null): void;
  /** Membership changed (conf change applied or snapshot restored). */
  onMembership?(): void;
  /** Persisting failed; the node has stopped and must not be restarted in this process. */
  onFatal?(error: unknown): void;
}

export interface RaftNodeOptions<R> {
  readonly id: NodeId;
  readonly storage: LevelDbStorage;
  readonly stateMachine: StateMachine<R>;
  /** Wall-clock length of one Raft tick. */
  readonly tickMs: number;
  /** Core settings (election and heartbeat ticks, flow-control limits). */
  readonly raft?: Omit<Partial<RaftConfig>, 'id' | 'storage' | 'rng'>;
  /** Seed of the election jitter; random by default. */
  readonly seed?: number;
  /** Take a snapshot once this many entries were applied since the last one. */
  readonly snapshotEntries: number;
  /** Or once the applied entries hold this many bytes of data (default: no bound; see SnapshotScheduler). */
  readonly snapshotBytes?: number;
  /** Entries kept behind a snapshot so a slightly slow follower needs no snapshot. */
  readonly snapshotCatchUpEntries: number;
  /** Proposals waiting to be applied on this node before new ones are refused. */
  readonly proposalsPendingMax?: number;
  /** Ticks a linearizable read may wait for its ReadIndex before failing. */
  readonly readTimeoutTicks?: number;
  /**
   * Whether a leader may send appends before its own write of the same
   * entries is durable (Raft thesis §10.2.1). Safe here because nothing that
   * reveals a commit leaves the node before that write finishes; see
   * docs/raft.md.
   */
  readonly leaderSendsBeforePersist?: boolean;
  readonly observer?: RaftNodeObserver;
}

export const proposalsPendingMaxDefault = 16_384;
/**
 * Committed bytes from which an apply waits for the transport first (see
 * yieldBeforeLongApply): a state machine takes a few hundred milliseconds
 * over a 20,000-task run's submission.
 */
export const applyYieldBytesMin = 64 * 1024;

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

interface PendingProposal<R> extends Deferred<R> {
  readonly term: number;
  /** performance.now() when propose() accepted it: the commit latency's start. */
  readonly proposedAtMs: number;
}

/**
 * Drives one RaftCore: a tick timer, the Ready loop (persist, send, apply,
 * advance, snapshot) and the bookkeeping that turns committed entries into
 * answers for proposers and readers. The only place in the library that
 * touches a clock, the disk and the network.
 *
 * The Ready loop runs one Ready at a time. Everything that arrives while a
 * Ready is being written (messages, proposals, ticks) goes into the core and
 * comes out batched in the next Ready: that is the group commit.
 */
export class RaftNode<R = unknown> implements TransportHandler {
  readonly id: NodeId;
  private readonly core: RaftCore;
  private readonly storage: LevelDbStorage;
  private readonly sm: StateMachine<R>;
  private readonly observer: RaftNodeObserver;
  private readonly opts: RaftNodeOptions<R>;
  private transport: Transport | null = null;

  private readonly proposals = new Map<number, PendingProposal<R>>();
  private readonly reads: ReadQueue;
  private readonly transfers = new Set<{ to: NodeId } & Deferred<void>>();

  private tickTimer: NodeJS.Timeout | null = null;
  private ticks = 0;
  /** The real time (performance.now()) a lease-mode leader's lease clock has counted up to; otherwise the last timer tick. See catchUpLeaseClock. */
  private lastTickMs = 0;
  private wake: (() => void) | null = null;
  private kicked = false;
  private readonly snapshots: SnapshotScheduler;
  /** The Ready loop is waiting for a storage write (see sendHeartbeatsDuringWrite). */
  private writing = false;
  /** `ticks` when that write began. */
  private writeStartTick = 0;
  private stopping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private fatal: unknown = null;

  /** The newest hard state a Ready held; its commit may not be written yet (see hardStateToWrite). */
  private latestHardState: HardState;
  private role: Role = 'follower';
  private leader: NodeId = NO_NODE;
  /** Regressed followers already reported to the observer. */
  private regressionsReported = new Map<NodeId, ProgressRegression>();
  private applied: number;

  constructor(options: RaftNodeOptions<R>) {
    assert(options.tickMs > 0, 'tickMs must be positive');
    assert(options.snapshotEntries > 0, 'snapshotEntries must be positive');
    assert(options.snapshotBytes === undefined || options.snapshotBytes > 0, 'snapshotBytes must be positive');
    this.opts = options;
    this.id = options.id;
    this.storage = options.storage;
    this.sm = options.stateMachine;
    this.observer = options.observer ?? {};
    this.reads = new ReadQueue(options.id);
    const snap = this.storage.snapshot();
    if (snap.metadata.index > 0) this.sm.restore(snap.data);
    this.applied = snap.metadata.index;
    this.latestHardState = this.storage.initialState().hardState;
    this.core = new RaftCore({
      ...options.raft,
      leaderLostStaggerTicks: options.raft?.leaderLostStaggerTicks ?? leaderLostStaggerTicksFor(options.raft?.electionTimeoutTicks ?? RAFT_DEFAULTS.electionTimeoutTicks),
      id: options.id,
      storage: options.storage,
      rng: new SeededRng(options.seed ?? randomInt(0, 2 ** 32)),
    });
    this.snapshots = new SnapshotScheduler(
      {
        storage: this.storage,
        sm: this.sm,
        applied: () => this.applied,
        appliedConfState: () => this.core.appliedConfState(),
        whileWriting: (write) => this.whileWriting(write),
        kick: () => this.kick(),
        stopping: () => this.stopping,
        onSnapshotSaved: (seconds, index) => this.observer.onSnapshotSaved?.(seconds, index),
      },
      options.snapshotEntries,
      options.snapshotCatchUpEntries,
      options.snapshotBytes,
    );
  }

  /** Connects the transport; call once, before `start`. */
  attachTransport(transport: Transport): void {
    assert(this.transport === null, 'transport attached twice');
    this.transport = transport;
  }

  start(): void {
    assert(this.transport !== null, 'start() before attachTransport()');
    assert(this.tickTimer === null, 'start() twice');
    this.lastTickMs = performance.now();
    this.tickTimer = setInterval(() => this.onTick(), this.opts.tickMs);
    this.loopDone = this.runLoop();
  }

  /** Stops ticking and the Ready loop, fails everything pending, closes storage. */
  async stop(): Promise<void> {
    if (this.stopping) return this.loopDone;
    this.stopping = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.kick();
    await this.loopDone;
    this.failAll(new NodeStoppedError(this.id));
    await this.storage.close();
  }

  // ------------------------------------------------------------- requests

  /**
   * Proposes a command; resolves with the state machine's result once it is
   * committed and applied here. Only the leader accepts proposals.
   */
  propose(data: Uint8Array): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      try {
        this.checkRunning();
        const pendingMax = this.opts.proposalsPendingMax ?? proposalsPendingMaxDefault;
        if (this.proposals.size >= pendingMax) throw new NodeOverloadedError(this.proposals.size, pendingMax);
        const { index, term } = this.core.propose(data);
        this.proposals.set(index, { term, resolve, reject, proposedAtMs: performance.now() });
        this.observer.onPendingProposals?.(this.proposals.size);
        this.kick();
      } catch (error) {
        this.observer.onProposalFailed?.(error as Error);
        reject(error as Error);
      }
    });
  }

  /** Proposes a membership change; resolves once it is applied here. */
  proposeConfChange(change: ConfChange): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        this.checkRunning();
        const { index, term } = this.core.proposeConfChange(change);
        this.proposals.set(index, { term, resolve: () => resolve(), reject, proposedAtMs: performance.now() });
        this.kick();
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  /**
   * Resolves with an index such that this node's state machine, once it has
   * applied that index (which it has when this resolves), reflects every
   * write committed before the call. Concurrent reads share one ReadIndex
   * round.
   */
  readIndex(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      try {
        this.checkRunning();
        this.reads.add(this.ticks, resolve, reject);
        this.kick();
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  /** Asks the leader to hand leadership to `to`; resolves when `to` leads. */
  transferLeadership(to: NodeId, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        this.checkRunning();
        if (this.leader === to) {
          resolve();
          return;
        }
        this.core.transferLeadership(to);
      } catch (error) {
        reject(error as Error);
        return;
      }
      const waiter = {
        to,
        resolve: () => {
          clearTimeout(timer);
          this.transfers.delete(waiter);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          this.transfers.delete(waiter);
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.reject(new TransferTimeoutError(to, this.leader, timeoutMs)), timeoutMs);
      this.transfers.add(waiter);
      this.kick();
    });
  }

  /**
   * Leader only: resets follower `to`'s replication progress so that a
   * follower whose log went back catches up again (the operator's repair,
   * see RaftCore.resetFollowerProgress). Returns where probing starts.
   */
  resetFollowerProgress(to: NodeId): { probeFrom: number; wasRegressed: boolean } {
    this.checkRunning();
    const result = this.core.resetFollowerProgress(to);
    this.kick();
    return result;
  }

  /** Starts an election at once (used by tests and drills). */
  campaign(): void {
    this.checkRunning();
    this.core.campaign();
    this.kick();
  }

  status(): RaftStatus & { snapshotIndex: number; appliedToMachine: number } {
    return { ...this.core.status(), snapshotIndex: this.storage.snapshot().metadata.index, appliedToMachine: this.applied };
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  get leaderId(): NodeId {
    return this.leader;
  }

  /** Timer ticks since start() (a stalled event loop counts as one). */
  get ticksElapsed(): number {
    return this.ticks;
  }

  get currentRole(): Role {
    return this.role;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get stateMachine(): StateMachine<R> {
    return this.sm;
  }

  // -------------------------------------------------------- TransportHandler

  onMessage(message: Message): void {
    if (this.stopping) return;
    // A forwarded read, or a commit that releases held reads, is judged on the lease here and now.
    this.catchUpLeaseClock();
    tracer?.event('raft.recv', `${message.type} from=${message.from} index=${message.index} entries=${message.entries.length} commit=${message.commit}`);
    try {
      this.core.step(message);
    } catch (error) {
      // A peer's message must never take the node down; a core invariant failing would.
      if ((error as Error).name === 'AssertionFailure') throw error;
    }
    this.kick();
  }

  onUnreachable(peer: NodeId): void {
    if (this.stopping) return;
    this.core.reportUnreachable(peer);
  }

  /** A peer's stream into this node ended: if it was the leader, campaign soon (see RaftCore.reportPeerLost; off in lease mode). */
  onPeerLost(peer: NodeId): void {
    if (this.stopping) return;
    this.core.reportPeerLost(peer);
    this.kick();
  }

  onSnapshotStatus(peer: NodeId, ok: boolean): void {
    if (this.stopping) return;
    this.core.reportSnapshot(peer, ok);
    this.kick();
  }

  onPeerAddress(): void {
    // Addresses are the coordinator's business (it owns the transport's peer list).
  }

  // ------------------------------------------------------------- the loop

  private onTick(): void {
    this.tickCore();
    if (this.writing && this.ticks - this.writeStartTick >= this.heartbeatTicks()) this.sendHeartbeatsDuringWrite();
    if (this.isLeaseLeader()) {
      // The timer's tick counted one tickMs on the lease clock; more that passed is caught up.
      this.lastTickMs += this.opts.tickMs;
      this.catchUpLeaseClock();
    } else {
      this.lastTickMs = performance.now();
    }
    this.reads.expire(this.ticks, this.opts.readTimeoutTicks ?? readTimeoutTicksDefault, this.leader);
    this.reportRegressions();
    this.kick();
  }

  /**
   * A leader's heartbeats leave at once while its Ready loop waits for a
   * storage write that has lasted a heartbeat interval, instead of with the
   * next Ready: a synced write can take longer than an election timeout (a
   * snapshot, a compaction, a disk that stalls), and followers that hear
   * nothing for that long depose a leader that is only busy. A write shorter
   * than that (the usual fsync) leaves them to the next Ready, in one frame
   * with its appends. The core hands them over only while the term and vote
   * they carry are on disk, with their commit cut to what the leader has
   * written (RaftCore.takeHeartbeats).
   */
  private sendHeartbeatsDuringWrite(): void {
    const heartbeats = this.core.takeHeartbeats();
    if (heartbeats.length > 0) this.transport?.send(heartbeats);
  }

  /** Runs one storage write of the Ready loop, marked as such for the tick. */
  private async whileWriting<T>(write: () => Promise<T>): Promise<T> {
    this.writing = true;
    this.writeStartTick = this.ticks;
    try {
      return await write();
    } finally {
      this.writing = false;
    }
  }

  private heartbeatTicks(): number {
    return this.opts.raft?.heartbeatIntervalTicks ?? RAFT_DEFAULTS.heartbeatIntervalTicks;
  }

  private tickCore(): void {
    this.ticks++;
    this.core.tick();
  }

  private isLeaseLeader(): boolean {
    return this.opts.raft?.readMode === 'lease' && this.core.basicStatus().role === 'leader';
  }

  /**
   * Lease mode: a leader's lease clock counts one tick per whole tickMs that
   * passed, however late the timer fires, so that a stalled event loop or a
   * paused process cannot stretch its lease (a late timer would count the
   * stall as one tick). Called after each timer tick and before every other
   * call that may judge a read (a local batch, any peer message: a forwarded
   * read, or a commit that releases reads held for it; an advance);
   * `lastTickMs` is where the lease clock stands in real time.
   * Only the lease clock catches up (RaftCore.advanceLeaseClock): a burst of
   * real ticks would trip check-quorum after any stall, and on a follower
   * would cut its vote refusal short. See docs/raft.md, "Lease-based reads".
   */
  private catchUpLeaseClock(): void {
    if (!this.isLeaseLeader()) return;
    const now = performance.now();
    // Ahead of real time (a timer that fired early) nothing is owed: the lease clock may run ahead, never behind.
    const owed = Math.floor((now - this.lastTickMs) / this.opts.tickMs);
    if (owed <= 0) return;
    this.core.advanceLeaseClock(owed);
    this.lastTickMs += owed * this.opts.tickMs;
  }

  /** Tells the observer of each follower that newly looks regressed, or no longer does; once each. */
  private reportRegressions(): void {
    const now = this.core.regressedFollowers();
    for (const [id, regression] of now) {
      if (this.regressionsReported.get(id)?.match === regression.match) continue;
      this.regressionsReported.set(id, regression);
      this.observer.onFollowerRegressed?.(id, regression);
    }
    for (const id of [...this.regressionsReported.keys()]) {
      if (now.has(id)) continue;
      this.regressionsReported.delete(id);
      this.observer.onFollowerRegressed?.(id, null);
    }
  }

  private kick(): void {
    this.kicked = true;
    const wake = this.wake;
    if (wake !== null) {
      this.wake = null;
      wake();
    }
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.stopping) {
        this.kicked = false;
        this.flushReads();
        if (!this.core.hasReady()) {
          if (this.snapshots.encoded) await this.snapshots.step();
          else if (!this.kicked) await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        const rd = this.core.ready();
        await this.handleReady(rd);
        this.catchUpLeaseClock();
        this.core.advance(rd);
        this.reads.serve(this.applied);
        await this.snapshots.step();
      }
    } catch (error) {
      this.fatal = error;
      this.stopping = true;
      if (this.tickTimer !== null) clearInterval(this.tickTimer);
      this.failAll(new NodeStoppedError(this.id));
      this.observer.onFatal?.(error);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (tracer !== null) traceReady(rd);
    if (rd.softState !== null) this.onSoftState(rd.softState.role, rd.softState.leader);
    const early: Message[] = [];
    const late: Message[] = [];
    const sendEarly = this.opts.leaderSendsBeforePersist !== false && this.role === 'leader' && !this.termOrVoteChanges(rd);
    for (const m of rd.messages) (sendEarly && isLeaderReplication(m) ? early : late).push(m);
    if (early.length > 0) this.transport!.send(early);
    // Committed entries already on this node's disk (from earlier Readys) are
    // applied, and their proposers answered, before this Ready's write: they
    // are durable on a majority, and waiting would add an fsync to every
    // write's latency (etcd applies concurrently with its WAL write too).
    // Entries of this very Ready (a one-node cluster) wait for the write.
    let committed = rd.committedEntries;
    const applyEarly = rd.snapshot === null;
    if (applyEarly) {
      const durable = Math.min(this.storage.lastIndex(), (rd.entries[0]?.index ?? Infinity) - 1);
      const split = committed.findIndex((e) => e.index > durable);
      const now = split === -1 ? committed : committed.slice(0, split);
      committed = split === -1 ? [] : committed.slice(split);
      await this.yieldBeforeLongApply(now);
      this.applyEntries(now);
      for (const rs of rd.readStates) this.reads.roundAnswered(rs.context, rs.index, this.applied);
    }
    if (rd.hardState !== null) this.latestHardState = rd.hardState;
    const hardState = hardStateToWrite(rd, this.storage.initialState().hardState, this.latestHardState);
    if (hardState !== null || rd.entries.length > 0 || rd.snapshot !== null) {
      const startMs = performance.now();
      await this.whileWriting(() => this.storage.save({ hardState, entries: rd.entries, snapshot: rd.snapshot }, { sync: rd.mustSync }));
      tracer?.event('raft.saved', `ms=${(performance.now() - startMs).toFixed(3)} entries=${rd.entries.length}`);
      this.observer.onPersist?.((performance.now() - startMs) / 1000, rd.entries.length, rd.mustSync);
    }
    if (late.length > 0) this.transport!.send(late);
    if (rd.snapshot !== null) this.restoreSnapshot(rd.snapshot.data, rd.snapshot.metadata.index);
    await this.yieldBeforeLongApply(committed);
    this.applyEntries(committed);
    if (!applyEarly) for (const rs of rd.readStates) this.reads.roundAnswered(rs.context, rs.index, this.applied);
    for (const rf of rd.readFailures) this.reads.roundFailed(rf.context, rf.reason, rf.leader);
    const basic = this.core.basicStatus();
    this.observer.onState?.({ term: basic.term, commit: basic.commit, applied: this.applied, leader: this.leader, role: this.role });
  }

  /**
   * Before entries whose apply may hold the event loop for long (over
   * `applyYieldBytesMin` bytes), lets the messages already handed to the
   * transport reach their sockets: on a leader, the appends that tell the
   * followers the new commit index; on a follower, its acknowledgement.
   * Otherwise a leader applying a 20,000-task submission told its followers
   * of the commit only once it was done, and they sat silent through its
   * apply and elected another leader. Messages stepped meanwhile wait for
   * the next Ready, as during a storage write. Two turns: the transport
   * flushes its queue on setImmediate, and HTTP/2 may hand what that flush
   * wrote to the socket only on a later immediate of its own.
   */
  private async yieldBeforeLongApply(entries: readonly Entry[]): Promise<void> {
    let bytes = 0;
    for (const entry of entries) bytes += entry.data.byteLength;
    if (bytes < applyYieldBytesMin) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private termOrVoteChanges(rd: Ready): boolean {
    if (rd.hardState === null) return false;
    const { hardState } = this.storage.initialState();
    return rd.hardState.term !== hardState.term || rd.hardState.vote !== hardState.vote;
  }

  private onSoftState(role: Role, leader: NodeId): void {
    const wasLeader = this.role === 'leader';
    this.role = role;
    this.leader = leader;
    if (wasLeader && role !== 'leader') {
      // Pending proposals may still commit under the next leader, or not: the
      // proposer cannot know, so it retries (idempotency keys make that safe).
      for (const [index, p] of this.proposals) p.reject(new ProposalDroppedError('leadership-lost', index));
      this.proposals.clear();
      this.observer.onPendingProposals?.(0);
    }
    for (const waiter of [...this.transfers]) if (leader === waiter.to) waiter.resolve();
  }

  private restoreSnapshot(data: Uint8Array, index: number): void {
    const startMs = performance.now();
    this.snapshots.drop();
    this.sm.restore(data);
    this.applied = index;
    for (const [i, p] of this.proposals) {
      if (i <= index) {
        p.reject(new ProposalDroppedError('snapshot-installed', i));
        this.proposals.delete(i);
      }
    }
    this.observer.onSnapshotRestored?.((performance.now() - startMs) / 1000, index);
    this.observer.onMembership?.();
  }

  private applyEntries(entries: readonly Entry[]): void {
    let appliedProposals = 0;
    let membershipChanged = false;
    for (const entry of entries) {
      assert(entry.index === this.applied + 1, `applying index ${entry.index} after ${this.applied}`);
      let result: R | undefined;
      if (entry.type === EntryType.ConfChange) {
        this.sm.applyConfChange(entry.index, decodeConfChange(entry.data, entry.index));
        membershipChanged = true;
      } else if (entry.data.byteLength === 0) {
        this.sm.applyEmpty(entry.index);
      } else {
        result = this.sm.applyCommand(entry.index, entry.data);
      }
      this.applied = entry.index;
      this.snapshots.noteApplied(entry.data.byteLength);
      const pending = this.proposals.get(entry.index);
      if (pending === undefined) continue;
      this.proposals.delete(entry.index);
      if (pending.term === entry.term) {
        this.observer.onProposalCommitted?.((performance.now() - pending.proposedAtMs) / 1000);
        pending.resolve(result as R);
        appliedProposals++;
      } else {
        pending.reject(new ProposalDroppedError('superseded', entry.index));
      }
    }
    if (appliedProposals > 0) this.observer.onProposalsApplied?.(appliedProposals);
    if (entries.length > 0) this.observer.onPendingProposals?.(this.proposals.size);
    if (membershipChanged) this.observer.onMembership?.();
  }

  // ---------------------------------------------------------------- reads

  /** Sends one ReadIndex round for every read queued since the last loop turn. */
  private flushReads(): void {
    const context = this.reads.startRound();
    if (context === null) return;
    // A lease is judged on ticks: count the time a late timer has not yet told the core.
    this.catchUpLeaseClock();
    this.core.readIndex(context);
  }

  // ------------------------------------------------------------- helpers

  private checkRunning(): void {
    if (this.stopping) throw new NodeStoppedError(this.id);
    if (this.fatal !== null) throw new NodeStoppedError(this.id);
  }

  private failAll(error: Error): void {
    for (const p of this.proposals.values()) p.reject(error);
    this.proposals.clear();
    this.reads.failAll(error);
    for (const waiter of [...this.transfers]) waiter.reject(error);
  }
}

/**
 * The gap between the survivors' campaigns after a lost leader (see
 * RaftCore.reportPeerLost): half an election timeout, at least the core's
 * default. The first-ranked survivor's pre-vote round must end before the
 * next one campaigns, or both become candidates and split the vote; on a
 * loaded machine that round takes as long as an event-loop stall (p99 about
 * 100 ms here), far more than the core's 3 ticks. It costs time only when
 * the first-ranked survivor cannot win.
 */
export function leaderLostStaggerTicksFor(electionTimeoutTicks: number): number {
  return Math.max(RAFT_DEFAULTS.leaderLostStaggerTicks, Math.floor(electionTimeoutTicks / 2));
}

/** Messages a leader may send before its own write is durable (see `leaderSendsBeforePersist`). */
function isLeaderReplication(m: Message): boolean {
  return m.type === 'App' || m.type === 'Heartbeat' || m.type === 'Snap';
}

/** The trace line of a Ready (src/common/trace.ts): its new entries, the last entry it commits, the messages it sends. */
function traceReady(rd: Ready): void {
  const entries = rd.entries.length === 0 ? '-' : `${rd.entries[0]!.index}-${rd.entries[rd.entries.length - 1]!.index}`;
  const committed = rd.committedEntries.length === 0 ? '-' : String(rd.committedEntries[rd.committedEntries.length - 1]!.index);
  tracer?.event('raft.ready', `entries=${entries} commit=${committed} messages=${rd.messages.map((m) => `${m.type}>${m.to}`).join(',')}`);
}
