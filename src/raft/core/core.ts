import { applyToConfState, decodeConfChange, encodeConfChange, validateConfChange } from './conf-change.js';
import { resolveConfig, type RaftConfig, type ResolvedRaftConfig } from './config.js';
import {
  assert,
  ConfChangeError,
  LeadershipTransferInProgressError,
  NotLeaderError,
  ProposalLimitError,
} from './errors.js';
import type { Progress, ProgressRegression } from './progress.js';
import { RaftLog } from './raft-log.js';
import { ReadIndexLedger, type ReadIndexView } from './read-only.js';
import { Replication } from './replication.js';
import { ProgressTracker } from './tracker.js';
import {
  EntryType,
  entriesBytes,
  hardStateEqual,
  message,
  MessageType,
  NO_NODE,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type Role,
  type SoftState,
} from './types.js';

/** Vote context that lets a transfer target's election through followers' leader lease. */
const TRANSFER_CONTEXT = 'transfer';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: Progress['state'];
  readonly recentActive: boolean;
  /** Set when the follower's log went back below what it acknowledged; see `resetFollowerProgress`. */
  readonly regression: ProgressRegression | null;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly leader: NodeId;
  readonly role: Role;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /**
   * The leader's commit index as this node last heard it from the leader of
   * its term (on the leader: its own commit index; 0 while none is known).
   * A follower trails the cluster by `leaderCommitHeard - applied`.
   */
  readonly leaderCommitHeard: number;
  /** Follower: the leader reports that this node's log went back and it cannot catch it up. */
  readonly leaderReportsRegression: boolean;
  /** Leader only: each member's replication progress. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

/**
 * A Raft peer with no I/O: `tick()`, `step(message)` and the propose calls go
 * in; `ready()` says what to persist, send and apply; `advance(ready)` reports
 * it done. See `Ready` for the order a driver must follow.
 *
 * Each role installs its own `stepRole` and `tickRole`; `step()` applies the
 * term rules every role shares (etcd's raft.go). Membership takes effect when
 * a conf change entry is applied, which `advance` does as the application
 * reports entries applied; one change may be pending at a time.
 *
 * Protected methods are the seams a test-only subclass uses to plant bugs.
 */
export class RaftCore {
  readonly id: NodeId;
  protected readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  protected readonly tracker: ProgressTracker;

  protected term = 0;
  protected vote: NodeId = NO_NODE;
  protected leader: NodeId = NO_NODE;
  protected role: Role = 'follower';

  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTimeoutTicks = 0;
  private leadTransferee: NodeId = NO_NODE;
  /** Removed leader: the voters its hand-off tried so far (see handOff); at most every voter. */
  private readonly handOffTried = new Set<NodeId>();
  /** Index of the last conf change proposed; none may be proposed until it is applied. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /** Follower: the highest commit index the current leader sent (see RaftStatus.leaderCommitHeard). */
  private leaderCommitHeard = 0;
  /** Follower: the current leader's last heartbeat said this node's log went back. */
  private leaderReportsRegression = false;
  /** Proposals appended since the last broadcast; flushed as one append per follower. */
  private broadcastPending = false;
  /**
   * Leader: its ticks in office, from 1. Heartbeats carry the count so that
   * an acknowledgement says when the heartbeat was sent (lease mode).
   */
  private leaderTicks = 0;
  /** Leader, check-quorum: election timeouts in a row that heard from no quorum (see checkQuorumTimeouts). */
  private quorumSilentTimeouts = 0;
  /**
   * Leader, lease mode: a TimeoutNow went out this term. Its target's
   * election passes followers' leases, and the message may arrive however
   * late, so this leader serves no lease read for the rest of its term.
   */
  private leaseVoided = false;
  /**
   * Lease mode: ticks left during which this node, just started, refuses
   * votes as if it heard from a leader. Before it went down it may have
   * acknowledged a heartbeat that a leader's lease counts on.
   */
  private restartGuardTicks = 0;

  private readonly reads: ReadIndexLedger;
  private readonly replication: Replication;

  private msgs: Message[] = [];
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private readyOutstanding: Ready | null = null;

  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    const { hardState, confState } = this.cfg.storage.initialState();
    this.log = new RaftLog(this.cfg.storage, hardState.commit);
    this.tracker = new ProgressTracker(this.cfg.inflightMessagesMax, this.cfg.inflightBytesMax);
    this.tracker.setConf(confState, this.log.lastIndex() + 1);
    this.replication = new Replication(
      { id: this.id, term: () => this.term, heartbeatTick: () => (this.cfg.readMode === 'lease' ? this.leaderTicks : 0), send: (m) => this.send(m), maybeCommit: () => this.maybeCommit(), broadcastAppend: () => this.broadcastAppend() },
      this.log,
      this.tracker,
      this.cfg,
    );
    this.reads = new ReadIndexLedger(
      { id: this.id, send: (m) => this.send(m), broadcastHeartbeat: (context) => this.replication.broadcastHeartbeat(context) },
      this.cfg.readRequestsPendingMax,
    );
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, NO_NODE);
    if (this.cfg.readMode === 'lease') this.restartGuardTicks = this.cfg.electionTimeoutTicks;
    this.prevSoftState = this.softState();
    this.prevHardState = hardState;
  }

  // ---------------------------------------------------------------- public API

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.restartGuardTicks > 0) this.restartGuardTicks--;
    this.tickRole();
  }

  /**
   * Lease mode, leader: counts `ticks` more ticks on the clock its lease is
   * judged by (the date heartbeats carry), and on nothing else: the driver's
   * timer fired late, so more time passed than `tick()` calls say. Elections
   * and check-quorum keep counting `tick()` calls, so that a stall does not
   * also depose a leader whose followers' answers wait unread in its socket.
   */
  advanceLeaseClock(ticks: number): void {
    assert(Number.isSafeInteger(ticks) && ticks >= 0, `advanceLeaseClock(${ticks}): a whole number of ticks`);
    if (this.role === 'leader') this.leaderTicks += ticks;
  }

  /**
   * Starts an election now (as if the election timeout had passed). In lease
   * mode a node inside its lease does nothing: its own vote would count
   * against a leader's lease it may be part of.
   */
  campaign(): void {
    if (this.cfg.readMode === 'lease' && this.inLease()) return;
    this.startElection();
  }

  private startElection(): void {
    this.campaignAs(this.cfg.preVote ? 'pre-vote' : 'election');
  }

  /**
   * Appends `data` on the leader. Returns where it will sit if it commits;
   * the entry at that index may later turn out to have another term, which
   * means this proposal was lost to a new leader.
   */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.proposeEntries([{ type: EntryType.Normal, data }])[0]!;
  }

  /** Proposes several entries at once; all are accepted or none. */
  proposeBatch(datas: readonly Uint8Array[]): { index: number; term: number }[] {
    return this.proposeEntries(datas.map((data) => ({ type: EntryType.Normal, data })));
  }

  /** Proposes one membership change (learners catch up before promotion). */
  proposeConfChange(change: ConfChange): { index: number; term: number } {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new ConfChangeError('pending', `a membership change at index ${this.pendingConfIndex} is not applied yet`);
    }
    // A learner's lag only matters when promoting it; the leader knows it from progress.
    const learnerMatch = this.tracker.progress.get(change.nodeId)?.match ?? 0;
    validateConfChange(this.tracker.conf(), change, this.log.lastIndex() - learnerMatch, this.cfg.learnerPromotionLagMax);
    const [position] = this.proposeEntries([{ type: EntryType.ConfChange, data: encodeConfChange(change) }]);
    this.pendingConfIndex = position!.index;
    return position!;
  }

  /** Hands leadership to `to` (forwarded to the leader when called on a follower). */
  transferLeadership(to: NodeId): void {
    if (this.role === 'leader') {
      this.handleTransferLeader(to);
    } else if (this.leader !== NO_NODE) {
      this.send(message({ type: MessageType.TransferLeader, from: to, to: this.leader, term: 0 }));
    } else {
      throw new NotLeaderError(this.id, NO_NODE);
    }
  }

  /**
   * Requests a linearizable read. A matching ReadState (or ReadFailure) with
   * the same `context` appears in a later Ready; the read may be served when
   * the applied index reaches its index. Contexts must be unique.
   */
  readIndex(context: string): void {
    if (this.isHandingOff()) {
      this.reads.failLocal(context, 'not-leader');
    } else if (this.role === 'leader') {
      this.reads.request(this.id, context, this.readView());
    } else if (this.leader !== NO_NODE) {
      this.send(message({ type: MessageType.ReadIndex, from: this.id, to: this.leader, term: 0, context }));
    } else {
      this.reads.failLocal(context, 'no-leader');
    }
  }

  /** The transport could not reach `to`; stop pipelining to it. */
  reportUnreachable(to: NodeId): void {
    if (this.role === 'leader') this.replication.reportUnreachable(to);
  }

  /**
   * The transport saw `peer`'s connection end: its process died (a killed
   * process's sockets close at once) or the link broke. When `peer` is this
   * follower's leader, the follower stops counting it as leader, which ends
   * its lease (so it grants pre-votes), and campaigns after 1 + r ×
   * `leaderLostStaggerTicks` ticks, r its rank among the other voters, instead
   * of waiting out the election timeout. The ranks keep the survivors, each
   * told the same, from campaigning together and splitting the vote.
   *
   * Only a hint: pre-vote still asks a majority first, and every voter that
   * still hears from a live leader ignores it (its lease), so a wrong report
   * raises no term; the leader's next message restores it here.
   *
   * Off in lease mode: a link that breaks while the leader lives would end
   * this follower's refusal of votes before the leader's lease ran out, and
   * a new leader could be elected while the old one still serves lease reads.
   */
  reportPeerLost(peer: NodeId): void {
    if (this.cfg.readMode === 'lease') return;
    if (this.role !== 'follower' || peer === NO_NODE || this.leader !== peer || !this.promotable()) return;
    const others = this.tracker.voters.filter((id) => id !== peer);
    const rank = others.indexOf(this.id);
    assert(rank >= 0, `voter ${this.id} missing from its own voters`);
    this.leader = NO_NODE;
    const waitTicks = 1 + rank * this.cfg.leaderLostStaggerTicks;
    this.electionElapsedTicks = Math.max(this.electionElapsedTicks, this.randomizedElectionTimeoutTicks - waitTicks);
  }

  /** The transport finished (or failed) sending a snapshot to `to`. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.role === 'leader') this.replication.reportSnapshot(to, ok);
  }

  /**
   * Leader only: forgets what follower `to` acknowledged and probes it again
   * from its real last index, so that a follower whose log went back (see
   * ProgressRegression) catches up by log or snapshot. An operator's act:
   * such a follower may have been counted in a quorum for entries it lost.
   * Returns the index probing starts from.
   */
  resetFollowerProgress(to: NodeId): { probeFrom: number; wasRegressed: boolean } {
    if (this.role !== 'leader') throw new NotLeaderError(this.id, this.leader);
    const pr = this.tracker.progress.get(to);
    if (to === this.id || pr === undefined) throw new RangeError(`${to} is not a follower of leader ${this.id}`);
    const wasRegressed = pr.regression !== null;
    return { probeFrom: this.replication.resetProgress(to), wasRegressed };
  }

  /** Leader only: followers whose log went back (empty on other roles). */
  regressedFollowers(): Map<NodeId, ProgressRegression> {
    const out = new Map<NodeId, ProgressRegression>();
    if (this.role !== 'leader') return out;
    for (const [id, pr] of this.tracker.progress) if (pr.regression !== null) out.set(id, pr.regression);
    return out;
  }

  /** The fields of `status()` that cost nothing to read. */
  basicStatus(): { term: number; role: Role; leader: NodeId; commit: number; applied: number } {
    return { term: this.term, role: this.role, leader: this.leader, commit: this.log.committed, applied: this.log.applied };
  }

  status(): RaftStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    if (this.role === 'leader') {
      for (const [id, pr] of this.tracker.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, regression: pr.regression });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      leader: this.leader,
      role: this.role,
      leadTransferee: this.leadTransferee,
      confState: this.tracker.conf(),
      leaderCommitHeard: this.role === 'leader' ? this.log.committed : this.leaderCommitHeard,
      leaderReportsRegression: this.role === 'leader' ? false : this.leaderReportsRegression,
      progress,
    };
  }

  /** Membership as of the applied index (what a snapshot taken now must record). */
  appliedConfState(): ConfState {
    return this.tracker.conf();
  }

  // ------------------------------------------------------------- Ready cycle

  hasReady(): boolean {
    if (this.readyOutstanding !== null) return false;
    return (
      this.broadcastPending ||
      this.msgs.length > 0 ||
      this.reads.hasOutput() ||
      this.log.unstableEntries().length > 0 ||
      this.log.unstable.snapshot !== null ||
      this.log.hasNextCommittedEntries() ||
      !hardStateEqual(this.hardState(), this.prevHardState) ||
      !softStateEqual(this.softState(), this.prevSoftState)
    );
  }

  /** Collects what must be done; call `advance(ready)` once it is done. */
  ready(): Ready {
    assert(this.readyOutstanding === null, 'ready() called again before advance()');
    this.flushBroadcast();
    const soft = this.softState();
    const hard = this.hardState();
    const entries = [...this.log.unstableEntries()];
    const { readStates, readFailures } = this.reads.takeOutput();
    const rd: Ready = {
      softState: softStateEqual(soft, this.prevSoftState) ? null : soft,
      hardState: hardStateEqual(hard, this.prevHardState) ? null : hard,
      entries,
      snapshot: this.log.unstable.snapshot,
      committedEntries: this.log.nextCommittedEntries(this.cfg.committedBytesPerReadyMax),
      messages: this.msgs,
      readStates,
      readFailures,
      // A received snapshot is acknowledged in this Ready's messages, so it must be durable first.
      mustSync: entries.length > 0 || this.log.unstable.snapshot !== null || hard.term !== this.prevHardState.term || hard.vote !== this.prevHardState.vote,
    };
    this.msgs = [];
    this.readyOutstanding = rd;
    return rd;
  }

  /** The Ready was persisted, sent and applied, in that order. */
  advance(rd: Ready): void {
    assert(this.readyOutstanding === rd, 'advance() with a Ready that is not the outstanding one');
    this.readyOutstanding = null;
    if (rd.softState !== null) this.prevSoftState = rd.softState;
    if (rd.hardState !== null) this.prevHardState = rd.hardState;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot !== null) {
      this.log.stableSnapTo(rd.snapshot.metadata.index);
      if (this.log.applied < rd.snapshot.metadata.index) this.log.applied = rd.snapshot.metadata.index;
    }
    for (const entry of rd.committedEntries) {
      this.log.appliedTo(entry.index);
      if (entry.type === EntryType.ConfChange) this.applyConfChange(decodeConfChange(entry.data, entry.index));
    }
    if (this.role === 'leader') this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entriesBytes(rd.committedEntries));
  }

  /**
   * Takes the heartbeats waiting for the next Ready out of it, for a driver
   * whose Ready is held by a slow storage write: a leader that sent nothing
   * for an election timeout would be deposed, though nothing is wrong with it.
   * Two things in a heartbeat depend on the disk:
   * - its term: nothing is returned while the term or the vote differs from
   *   the last advanced Ready's hard state (that one is written; a term not
   *   yet written must never be sent);
   * - its commit index: the leader counts its own copy of an entry when it
   *   appends it, so while that copy is being written the commit index may
   *   count a copy that is not durable. A follower told that commit could
   *   apply an entry a new leader then overwrites. So the commit a taken
   *   heartbeat carries is cut to the leader's last written entry (the
   *   quorum that commits up to there is all on disk).
   * The other messages keep their order and wait for the next Ready.
   */
  takeHeartbeats(): Message[] {
    if (this.role !== 'leader' || this.term !== this.prevHardState.term || this.vote !== this.prevHardState.vote) return [];
    const heartbeats = this.msgs.filter((m) => m.type === MessageType.Heartbeat);
    if (heartbeats.length === 0) return [];
    this.msgs = this.msgs.filter((m) => m.type !== MessageType.Heartbeat);
    const written = this.log.unstable.offset - 1;
    return heartbeats.map((m) => (m.commit <= written ? m : { ...m, commit: written }));
  }

  // --------------------------------------------------------------- stepping

  /** Handles a message from a peer (term rules first, then the role's handler). */
  step(m: Message): void {
    if (isVoteMessage(m.type)) this.learnCommit(m);
    if (m.term === 0) {
      // ReadIndex and TransferLeader are forwarded requests and carry no term.
    } else if (m.term > this.term) {
      if (!this.acceptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.handleStaleTerm(m);
      return;
    }
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    this.stepRole(m);
  }

  /**
   * Learns the commit index the sender of a vote request or response knows,
   * whatever its term and whether or not the message is answered: if this
   * log holds the entry at that index with the same term, the Log Matching
   * property makes every entry up to it identical to the sender's, so all
   * are committed. Without it a configuration change that committed while
   * its leader died can stay unapplied where it is needed: a learner whose
   * promotion committed holds the newest entry, so it refuses the voters
   * that need its vote under the new configuration, and being a learner in
   * its own view it never campaigns itself; likewise a candidate that has
   * not learnt the commit of a voter's removal keeps needing the vote of
   * the removed node, which holds the newest entry and refuses it. A leader
   * commits by counting and learns nothing here.
   */
  private learnCommit(m: Message): void {
    if (this.role === 'leader' || m.commit <= this.log.committed || m.commit > this.log.lastIndex()) return;
    if (this.log.termOrZero(m.commit) !== m.commitTerm) return;
    this.log.commitTo(m.commit);
  }

  /** Term rules for a message from a higher term; false means drop it. */
  private acceptHigherTerm(m: Message): boolean {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      const force = m.context === TRANSFER_CONTEXT;
      // A node that hears from a live leader ignores would-be disruptors (§4.2.3).
      if (!force && this.inLease()) return false;
    }
    if (m.type === MessageType.PreVote) return true; // never raises our term
    if (m.type === MessageType.PreVoteResp && !m.reject) return true; // raised when the real election starts
    const fromLeader = m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap;
    this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
    return true;
  }

  private handleStaleTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
      // A leader cut off by a partition learns of the newer term and steps down;
      // without this, check-quorum/pre-vote could leave it stranded forever.
      this.send(message({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term }));
    } else if (m.type === MessageType.PreVote) {
      this.send(message({ type: MessageType.PreVoteResp, from: this.id, to: m.from, term: this.term, reject: true, ...this.commitKnownUpTo(m.index) }));
    }
  }

  private handleVoteRequest(m: Message): void {
    const isPre = m.type === MessageType.PreVote;
    const canVote = this.vote === m.from || (this.vote === NO_NODE && this.leader === NO_NODE) || (isPre && m.term > this.term);
    const respType = isPre ? MessageType.PreVoteResp : MessageType.VoteResp;
    const known = this.commitKnownUpTo(m.index);
    if (canVote && this.logUpToDate(m.index, m.logTerm)) {
      // Answer with the request's term so a pre-candidate counts it.
      this.send(message({ type: respType, from: this.id, to: m.from, term: m.term, ...known }));
      if (!isPre) {
        this.electionElapsedTicks = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: respType, from: this.id, to: m.from, term: this.term, reject: true, ...known }));
      if (isPre && canVote && this.role === 'follower' && this.leader === NO_NODE && this.promotable()) {
        // Refused for its log alone, with no leader known here: this log is
        // newer than the candidate's, so this node can win where the candidate
        // may not (of three voters, it cannot), and it campaigns at the next
        // tick instead of waiting out its own timeout or leader-lost stagger
        // (docs/raft.md, "Timing and failover"). Pre-vote keeps it harmless: voters that
        // still hear a leader refuse it, and it raises no term.
        this.electionElapsedTicks = Math.max(this.electionElapsedTicks, this.randomizedElectionTimeoutTicks - 1);
      }
    }
  }

  /**
   * The commit index this node knows, capped at `lastIndex` (the other
   * side's last entry, so that it can check the term), with its term: what
   * vote messages carry for learnCommit.
   */
  private commitKnownUpTo(lastIndex: number): Pick<Message, 'commit' | 'commitTerm'> {
    const commit = Math.min(this.log.committed, lastIndex);
    return { commit, commitTerm: this.log.termOrZero(commit) };
  }

  /** Raft §5.4.1 vote restriction. A planted-bug variant overrides this. */
  protected logUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.log.isUpToDate(lastIndex, lastTerm);
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.leader !== NO_NODE) this.send({ ...m, to: this.leader });
        return;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign at once, past pre-vote and leases.
        if (this.promotable()) this.campaignAs('transfer');
        return;
      case MessageType.ReadIndex:
        this.reads.reject(m.from, m.context, this.leader);
        return;
      case MessageType.ReadIndexResp:
        this.reads.onResponse(m, this.leader);
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === 'pre-candidate' ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.App:
      case MessageType.Heartbeat:
      case MessageType.Snap:
        // A leader of our term exists: we lost this election.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case myVoteResp:
        this.tracker.recordVote(m.from, !m.reject);
        this.afterVote();
        return;
      case MessageType.ReadIndex:
        this.reads.reject(m.from, m.context, this.leader);
        return;
      case MessageType.ReadIndexResp:
        this.reads.onResponse(m, this.leader);
        return;
      default:
        return;
    }
  }

  private afterVote(): void {
    const result = this.tracker.tallyVotes();
    if (result === 'won') {
      if (this.role === 'pre-candidate') {
        this.campaignAs('election');
      } else {
        this.becomeLeader();
      }
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.ReadIndex:
        if (this.isHandingOff()) this.reads.reject(m.from, m.context, NO_NODE);
        else this.reads.request(m.from, m.context, this.readView());
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m.from);
        return;
      case MessageType.AppResp: {
        const pr = this.replication.onAppendResponse(m);
        if (pr !== null && m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
        return;
      }
      case MessageType.HeartbeatResp:
        this.replication.onHeartbeatResponse(m);
        if (m.context !== '' && this.tracker.isVoter(m.from)) this.reads.ack(m.from, m.context, this.tracker.voters);
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ ticks

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.promotable() && this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      this.startElection();
    }
  }

  private tickHeartbeat(): void {
    this.leaderTicks++;
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.cfg.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      if (!this.leaderElectionTimeout()) return;
    }
    this.replication.tickSnapshots();
    if (this.heartbeatElapsedTicks >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      this.replication.broadcastHeartbeat(this.reads.lastContext());
    }
  }

  /** The leader's once-per-election-timeout checks; false when it stepped down. */
  private leaderElectionTimeout(): boolean {
    if (this.isHandingOff()) {
      // Neither check-quorum nor the transfer abort applies here: see handOff.
      this.handOff();
      return this.role === 'leader';
    }
    if (this.cfg.checkQuorum) {
      if (this.tracker.quorumActive(this.id)) {
        this.quorumSilentTimeouts = 0;
      } else if (++this.quorumSilentTimeouts >= this.cfg.checkQuorumTimeouts) {
        this.becomeFollower(this.term, NO_NODE);
        return false;
      }
      this.tracker.resetRecentActive(this.id);
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (this.leadTransferee !== NO_NODE) this.leadTransferee = NO_NODE;
    return true;
  }

  // ------------------------------------------------------------ role changes

  protected becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.leader = leader;
    this.role = 'follower';
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become pre-candidate');
    // Pre-vote changes neither term nor vote: a lost pre-vote leaves no trace.
    this.tracker.votes.clear();
    this.reads.failAll('no-leader');
    this.leader = NO_NODE;
    this.role = 'pre-candidate';
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', `only a candidate can become leader (was ${this.role})`);
    this.reset(this.term);
    this.leader = this.id;
    this.role = 'leader';
    this.leaderTicks = 1;
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickHeartbeat();
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // The empty entry commits everything before it (§5.4.2) and holds back any
    // conf change until it is applied (the single-server-change bug fix).
    const empty = this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.pendingConfIndex = empty[0]!.index;
    this.uncommittedBytes = 0;
    this.broadcastAppend();
  }

  /** Resets per-term volatile state; keeps the vote when the term does not change. */
  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.reads.failAll(this.role === 'leader' ? 'lost-leadership' : 'no-leader');
    this.leader = NO_NODE;
    this.leaderCommitHeard = 0;
    this.leaderReportsRegression = false;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.leaderTicks = 0;
    this.quorumSilentTimeouts = 0;
    this.leaseVoided = false;
    this.randomizedElectionTimeoutTicks = this.cfg.electionTimeoutTicks + this.cfg.rng.intBelow(this.cfg.electionTimeoutTicks);
    this.leadTransferee = NO_NODE;
    this.handOffTried.clear();
    this.tracker.votes.clear();
    this.tracker.resetProgress(this.log.lastIndex() + 1);
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.log.lastIndex();
      self.recentActive = true;
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.broadcastPending = false;
  }

  private campaignAs(kind: 'pre-vote' | 'election' | 'transfer'): void {
    // A leader's election timeout starts no election (etcd ignores MsgHup on a leader).
    if (!this.promotable() || this.role === 'leader') return;
    let voteType: MessageType;
    let voteTerm: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      voteTerm = this.term + 1; // the term we would campaign in
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      voteTerm = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === 'won') {
      // A single-voter cluster wins at once.
      this.afterVote();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    const known = this.commitKnownUpTo(this.log.committed);
    const context = kind === 'transfer' ? TRANSFER_CONTEXT : '';
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.send(message({ type: voteType, from: this.id, to: id, term: voteTerm, index: lastIndex, logTerm: lastTerm, ...known, context }));
    }
  }

  /** Only voters with no snapshot pending may campaign. */
  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.log.unstable.snapshot === null;
  }

  /**
   * Whether this node heard from a live leader within an election timeout
   * (or, lease mode, started less than one ago): it then grants no vote.
   * Leaders' read leases rest on it (docs/raft.md, "Lease-based reads").
   */
  private inLease(): boolean {
    if (!this.cfg.checkQuorum) return false;
    if (this.restartGuardTicks > 0) return true;
    return this.leader !== NO_NODE && this.electionElapsedTicks < this.cfg.electionTimeoutTicks;
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsedTicks = 0;
    this.leader = from;
  }

  // --------------------------------------------------------- follower side

  private handleAppend(m: Message): void {
    this.leaderCommitHeard = Math.max(this.leaderCommitHeard, m.commit);
    if (m.index < this.log.committed) {
      this.send(message({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.leaderReportsRegression = false;
      this.send(message({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: lastNew }));
      return;
    }
    // Tell the leader the largest index where our logs could still agree.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      message({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.leaderCommitHeard = Math.max(this.leaderCommitHeard, m.commit);
    this.leaderReportsRegression = m.reject;
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    // Echo the heartbeat's tick: the leader's lease counts from when it was sent.
    this.send(message({ type: MessageType.HeartbeatResp, from: this.id, to: m.from, term: this.term, index: m.index, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    assert(snapshot !== null, 'Snap message without a snapshot');
    const meta = snapshot.metadata;
    // A snapshot older than our own addition is still accepted: the conf change
    // that adds us follows it in the log.
    if (meta.index > this.log.committed) {
      if (this.log.matchTerm(meta.index, meta.term)) {
        // We already hold the snapshot's entries: just commit them.
        this.log.commitTo(meta.index);
      } else {
        this.log.restore(snapshot);
        this.tracker.setConf(meta.confState, this.log.lastIndex() + 1);
        this.pendingConfIndex = 0;
      }
    }
    // Only the committed prefix is known to match the leader's log; entries
    // past it may be stale leftovers of an older term.
    this.send(message({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: this.log.committed }));
  }

  // ------------------------------------------------------------ leader side

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.id, this.leader);
    if (this.leadTransferee !== NO_NODE) throw new LeadershipTransferInProgressError(this.leadTransferee);
    assert(!this.isHandingOff(), `removed leader ${this.id} has no transfer under way`);
  }

  private proposeEntries(items: readonly { type: EntryType; data: Uint8Array }[]): { index: number; term: number }[] {
    this.checkCanPropose();
    let bytes = 0;
    for (const item of items) bytes += item.data.byteLength + 24;
    // An empty uncommitted log always accepts one batch, so progress never stalls.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) {
      throw new ProposalLimitError(this.uncommittedBytes, this.cfg.uncommittedBytesMax);
    }
    const appended = this.appendEntries(items);
    this.uncommittedBytes += bytes;
    this.broadcastPending = true;
    return appended.map((e) => ({ index: e.index, term: e.term }));
  }

  /** Appends to the leader's log and counts the leader's own acknowledgement. */
  private appendEntries(items: readonly { type: EntryType; data: Uint8Array }[]): Entry[] {
    let index = this.log.lastIndex();
    const entries: Entry[] = items.map((item) => ({ term: this.term, index: ++index, type: item.type, data: item.data }));
    const last = this.log.append(entries);
    this.tracker.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
    return entries;
  }

  private applyConfChange(change: ConfChange): void {
    const conf = applyToConfState(this.tracker.conf(), change);
    this.tracker.setConf(conf, this.log.lastIndex() + 1);
    if (this.role !== 'leader') {
      // A candidate that applies its own removal abandons its campaign: were it to win, it
      // would lead a configuration it is no voter of (sim seeds 58785, 60602).
      if ((this.role === 'candidate' || this.role === 'pre-candidate') && !conf.voters.includes(this.id)) this.becomeFollower(this.term, NO_NODE);
      return;
    }
    if (!conf.voters.includes(this.id)) {
      this.handOff();
      return;
    }
    if (this.leadTransferee !== NO_NODE && !conf.voters.includes(this.leadTransferee)) this.leadTransferee = NO_NODE;
    // A smaller quorum may commit more; new members need their first append.
    if (this.maybeCommit()) this.broadcastPending = true;
    for (const id of this.tracker.members()) {
      if (id !== this.id && this.tracker.progress.get(id)!.match === 0) this.replication.sendAppend(id, true);
    }
  }

  /**
   * This leader applied a configuration without it as a voter. Stepping down
   * at once would leave the followers counting the old configuration until
   * they learn that the removal committed, while this node, maybe holding
   * the longest log, refuses their votes and never campaigns: with one voter
   * down for good, no election could succeed. So it goes on leading without
   * counting itself (it has no progress, so no commit, quorum or lease counts
   * it), refuses proposals and reads, tells every member the commit index,
   * and transfers leadership to the best remaining voter (etcd leads on when
   * removed too). A higher term ends it, as it ends any leader.
   *
   * Called again at each election timeout until then, it retries with the
   * next voter, and it does not step down for want of a quorum: a removed
   * leader that stepped down before the others heard the commit (cut off by
   * a partition as it applied its removal: sim seed 7964) leaves them stuck
   * for good, whereas one that carries on tells them once the partition
   * heals. Carrying on costs nothing in safety: it commits only what a quorum
   * of the others holds, serves no reads, and accepts no proposals.
   */
  private handOff(): void {
    const successor = this.successorAfterRemoval();
    if (successor === NO_NODE) {
      // No voter left (validateConfChange forbids it): nobody to hand over to.
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    this.handOffTried.add(successor);
    this.reads.failAll('lost-leadership');
    // A quorum of the remaining voters may commit more.
    if (this.maybeCommit()) this.broadcastPending = true;
    // Heartbeats carry the commit index and are never held back by a full window.
    this.replication.broadcastHeartbeat('');
    this.leadTransferee = NO_NODE; // a fresh transfer, with a fresh timeout
    this.handleTransferLeader(successor);
    assert(this.leadTransferee === successor, `removed leader ${this.id} did not start its hand-off to ${successor}`);
  }

  /**
   * The voter with the highest match (the lowest id among equals) not yet
   * tried in this hand-off; once every voter was tried, the round starts
   * again. NO_NODE when there is no voter.
   */
  private successorAfterRemoval(): NodeId {
    if (this.tracker.voters.every((id) => this.handOffTried.has(id))) this.handOffTried.clear();
    let best: NodeId = NO_NODE;
    let bestMatch = -1;
    for (const id of this.tracker.voters) {
      assert(id !== this.id, 'a removed leader is among the voters');
      const match = this.tracker.progress.get(id)!.match;
      if (!this.handOffTried.has(id) && match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  /** A leader whose applied configuration no longer has it as a voter. */
  private isHandingOff(): boolean {
    return this.role === 'leader' && !this.tracker.isVoter(this.id);
  }

  /**
   * Commits the highest index a quorum holds, if it is of the current term
   * (Raft §5.4.2). A planted-bug variant overrides this.
   */
  protected maybeCommit(): boolean {
    const committed = this.log.maybeCommit(this.tracker.committed(), this.term);
    if (committed && this.role === 'leader') this.reads.releaseWaiting(this.readView());
    return committed;
  }

  private flushBroadcast(): void {
    if (this.role === 'leader' && this.broadcastPending) this.broadcastAppend();
    this.broadcastPending = false;
  }

  private broadcastAppend(): void {
    this.broadcastPending = false;
    this.replication.sendAppendToAll();
  }

  private handleTransferLeader(to: NodeId): void {
    if (!this.tracker.isVoter(to)) return; // learners and strangers cannot lead
    if (to === this.id || to === this.leadTransferee) return;
    this.leadTransferee = to;
    // The transfer gets one election timeout to finish.
    this.electionElapsedTicks = 0;
    const pr = this.tracker.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(to);
    } else {
      this.replication.sendAppend(to, true);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseVoided = true;
    this.send(message({ type: MessageType.TimeoutNow, from: this.id, to, term: this.term }));
  }

  /**
   * Lease mode: whether a quorum acknowledged a heartbeat sent fewer than
   * `leaseTicks()` of this leader's ticks ago. Each of them refuses votes
   * for an election timeout of its own ticks after receiving it (inLease),
   * so, within the drift bound in docs/raft.md, no other leader exists yet.
   */
  private holdsLease(): boolean {
    if (this.cfg.readMode !== 'lease' || this.role !== 'leader' || this.leaseVoided || this.isHandingOff()) return false;
    const start = this.tracker.leaseStartTick(this.id, this.leaderTicks);
    return start > 0 && this.leaderTicks - start < this.leaseTicks();
  }

  /** How many of its ticks a lease lasts after the heartbeat it counts from. A planted-bug variant overrides this. */
  protected leaseTicks(): number {
    return this.cfg.electionTimeoutTicks - this.cfg.leaseSafetyTicks;
  }

  // ---------------------------------------------------------------- helpers

  protected send(m: Message): void {
    assert(m.to !== this.id, `message ${m.type} addressed to self`);
    this.msgs.push(m);
  }

  private readView(): ReadIndexView {
    return {
      committed: this.log.committed,
      committedInTerm: this.log.termOrZero(this.log.committed) === this.term,
      voters: this.tracker.voters,
      leaseHeld: this.holdsLease(),
    };
  }

  private softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}


/** Vote requests and answers: the messages that carry a commit for learnCommit. */
function isVoteMessage(type: MessageType): boolean {
  return type === MessageType.Vote || type === MessageType.PreVote || type === MessageType.VoteResp || type === MessageType.PreVoteResp;
}
