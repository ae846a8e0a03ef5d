import {
  AssertionFailure,
  ConfChangeType,
  EntryType,
  MemoryStorage,
  MessageType,
  NotLeaderError,
  RaftCore,
  RaftError,
  SeededRng,
  assert,
  decodeConfChange,
  hardStateToWrite,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  RAFT_DEFAULTS,
  type RaftConfig,
  type Ready,
  type ReadMode,
} from '../../src/raft/index.js';
import { checkDurableState } from '../../src/raft/storage/durable-record.js';
import { cloneStorage, corruptEntry, lastIndexAfter, observedDurableState, recordOf, termAtOf, type SimRecord } from './disk.js';
import { KvStore, encodeCommand } from './kv.js';
import { checkLinearizable, type HistoryOp } from './linearizability.js';
import { RELIABLE, SimNetwork } from './network.js';
import { SafetyMonitor, type Violation } from './safety.js';

export interface SimOptions {
  readonly seed: number;
  readonly nodes: 3 | 5;
  readonly steps: number;
  readonly trace?: boolean;
  /** Build the core; planted-bug tests pass a buggy subclass. */
  readonly coreFactory?: (config: RaftConfig) => RaftCore;
  /** Planted bug: a node that believes it leads answers reads from local state. */
  readonly readWithoutReadIndex?: boolean;
  /** Enable membership changes (on by default). */
  readonly membership?: boolean;
  /**
   * Fault mix: 'mixed' (default) draws every fault type; 'churn' mostly
   * crashes leaders soon after election and isolates them, the pattern in
   * which commit-rule bugs (Raft's Figure 8) live.
   */
  readonly profile?: 'mixed' | 'churn';
  /**
   * The storage-rollback fault (on by default): a node's disk is restored to
   * an earlier backup of itself while it is down. Off replays the fault mix
   * of earlier versions (seed 12086's regression test uses it).
   */
  readonly rollback?: boolean;
  /** One planted bug on the simulator's side (the driver, disk or network); see `SimBug`. */
  readonly plant?: SimBug;
  /**
   * How leaders confirm reads (RaftConfig.readMode; 'safe' by default). In
   * 'lease' mode skipped ticks stay within the drift bound the lease rests on
   * (see `maySkipTick`).
   */
  readonly readMode?: ReadMode;
  /** Election timeouts a leader goes without a quorum before it steps down (RaftConfig.checkQuorumTimeouts; 1 by default). */
  readonly checkQuorumTimeouts?: number;
  /**
   * Some Readys' writes stay in flight for steps, as RaftNode's do (on by
   * default; see `processReady`). Off replays the schedule of earlier
   * versions, where every Ready was written, sent and applied at once.
   */
  readonly slowWrites?: boolean;
}

/**
 * Bugs planted in the parts the simulator plays (driver, disk, network), each
 * to prove one check of the safety monitor fires. Core-side bugs are RaftCore
 * subclasses in planted-bugs.ts.
 */
export const simBugs = [
  /** Starts a node on rolled-back storage without checking its durable record. */
  'recover-without-check',
  /** Checks the record's term, vote and last index but not its last entry's term (the record before it held one). */
  'record-without-last-term',
  /** The old retire rule: stop a removed node once the leader's applied voters omit it. */
  'retire-on-voters-only',
  /** Stops for good a voter other than the one whose removal it proposed (and only by the voters-only rule). */
  'retire-wrong-node',
  /** A restarted node rebuilds its application from nothing instead of its snapshot. */
  'restart-without-snapshot-state',
  /** The leader acknowledges a write once its own disk holds it, before it commits. */
  'ack-on-append',
  /** The disk corrupts the oldest entry kept after a compaction (already applied). */
  'corrupt-retained-entry',
  /** The transport retries every message without a bound. */
  'resend-every-message',
  /** The driver drains a Ready a second time before advancing the first. */
  'ready-twice',
  /** Lease mode: a leader resumed from a pause gets no lease-clock catch-up for the time it missed (RaftNode.catchUpLeaseClock). */
  'pause-without-catch-up',
  /** A leader's heartbeats sent during its write carry min(match, commit), a commit that may count its own copy not yet written (RaftCore.takeHeartbeats cuts it). */
  'heartbeat-commit-while-writing',
] as const;
export type SimBug = (typeof simBugs)[number];

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly violations: readonly Violation[];
  readonly trace: readonly string[];
  readonly stats: {
    readonly opsOk: number;
    /** Reads answered, and the steps they waited in all (lease mode answers most in the step they ask). */
    readonly readsOk: number;
    readonly readWaitSteps: number;
    readonly opsUnknown: number;
    readonly opsFailed: number;
    readonly leaderTerms: number;
    readonly crashes: number;
    readonly snapshots: number;
    readonly membershipChanges: number;
    readonly rollbacks: number;
    readonly refusedRestarts: number;
    readonly messagesDelivered: number;
    readonly messagesDropped: number;
  };
}

/** Ticks allowed after the last fault heals for a leader to commit a write. */
export const livenessTicksMax = 400;
/** Steps a client waits for an answer before recording the outcome as unknown. */
const opTimeoutSteps = 40;
/** Average messages per step beyond which a run counts as a storm (a healthy run sends about 8). */
const messagesPerStepMax = 500;
/** Most Ready cycles one node runs in one step. */
const readyCyclesPerStepMax = 8;
/** Chance per step of a storage rollback fault. */
const rollbackChancePerStep = 1 / 250;
/** Steps between backups of each live node's storage. */
const backupIntervalSteps = 10;
/** Backups kept per node, oldest dropped first: a rollback goes back at most this many intervals. */
const backupsMax = 4;
/** Lease mode: chance per step that a running node is paused (a SIGSTOP, a long stall). */
const pauseChancePerStep = 1 / 100;
/** Chance that a Ready's write stays in flight for some steps (RaftNode: the loop waits for LevelDB; ticks, messages and proposals go on). */
const slowWriteChance = 0.1;
/** Copies of each message the planted 'resend-every-message' transport sends. */
const resendCopies = 80;

interface SimNode {
  readonly id: NodeId;
  storage: MemoryStorage;
  core: RaftCore | null;
  kv: KvStore;
  /** ReadIndex results waiting for the applied index to catch up. */
  reads: Map<string, number>;
  /** Steps until a crashed node restarts (0: up). */
  downSteps: number;
  /** Removed from the cluster: stopped for good at this step. */
  retireAt: number | null;
  retired: boolean;
  snapshotIntervalEntries: number;
  /**
   * The node's independent durable record (src/raft/storage/durable-record.ts),
   * kept as the coordinator keeps it: a storage rollback leaves it alone.
   */
  record: SimRecord;
  /** Earlier copies of the storage, oldest first: what a rollback restores. */
  backups: MemoryStorage[];
  /** Its storage was rolled back and it has not started since. */
  rolledBack: boolean;
  /** Refused to start on rolled-back storage: down until an operator replaces it. */
  refused: boolean;
  /** Steps of its latest skipped ticks (lease mode keeps them within the drift bound). */
  skippedTickSteps: number[];
  /** Lease mode: steps left in a pause (0: running); a paused node neither ticks nor hears anything. */
  pausedSteps: number;
  /** Steps the current pause has lasted: the ticks a driver owes a resumed leader. */
  pausedForSteps: number;
  /** The step it last resumed in: its clients' requests get in before its peers' messages then. */
  resumedStep: number;
  /** Reads sent to it while paused, handled first when it resumes. */
  inbox: (() => void)[];
  /** A Ready whose write is in flight until `doneStep`; `late` are its messages that wait for the write. */
  writing: { readonly rd: Ready; readonly late: readonly Message[]; readonly doneStep: number } | null;
  /** The term its current core last became leader in (0: none yet). */
  ledTerm: number;
  /** The newest hard state its core handed out; its commit may be unwritten (hardStateToWrite). */
  latestHardState: HardState;
}

interface PendingOp {
  readonly op: Omit<HistoryOp, 'responseStep' | 'value'> & { value: string | null };
  readonly node: NodeId;
  readonly startedStep: number;
  readonly index: number;
  readonly term: number;
  readonly context: string;
}

interface SimClient {
  readonly id: number;
  leaderHint: NodeId;
  pending: PendingOp | null;
  seq: number;
}

/** A whole cluster of real RaftCores in one process, driven by one seed. */
export class Simulation {
  private readonly rng: SeededRng;
  private readonly faultRng: SeededRng;
  /** Rollback faults draw apart, so runs without them replay the older fault mix. */
  private readonly rollbackRng: SeededRng;
  /** Draws the lease-mode pause fault, apart from the other faults so that safe-mode seeds replay as before. */
  private readonly pauseRng: SeededRng;
  /** Draws which Readys' writes stay in flight, and for how long. */
  private readonly writeRng: SeededRng;
  private readonly net: SimNetwork;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients: SimClient[] = [];
  private readonly monitor = new SafetyMonitor();
  private readonly history: HistoryOp[] = [];
  private readonly traceLines: string[] = [];
  private readonly config: Omit<RaftConfig, 'id' | 'storage' | 'rng'>;
  private step = 0;
  private clock = 0;
  private nextNodeNumber: number;
  private nextOpId = 1;
  private readonly keys = ['a', 'b', 'c'];
  private readonly stats = { opsOk: 0, readsOk: 0, readWaitSteps: 0, opsUnknown: 0, opsFailed: 0, leaderTerms: 0, crashes: 0, snapshots: 0, membershipChanges: 0, rollbacks: 0, refusedRestarts: 0 };
  private healed = false;
  private churnRemaining = 0;
  private churnTerm = -1;
  private churnCrashAt = 0;
  /** Chance of a fault each step: seeds differ in how hard they are hit. */
  private readonly faultRate: number;

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRng(options.seed);
    this.faultRng = this.rng.fork();
    this.rollbackRng = new SeededRng(options.seed ^ 0x6a09e667);
    this.pauseRng = new SeededRng(options.seed ^ 0x3c6ef372);
    this.writeRng = new SeededRng(options.seed ^ 0xa54ff53a);
    this.faultRate = [1 / 40, 1 / 20, 1 / 10][this.rng.intBelow(3)]!;
    this.net = new SimNetwork(this.rng.fork());
    // Tiny messages make the leader ack one entry at a time, exposing commit-rule bugs.
    const messageBytesMax = [1, 200, 64 * 1024][this.rng.intBelow(3)]!;
    this.config = {
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      messageBytesMax,
      inflightMessagesMax: 4 + this.rng.intBelow(32),
      learnerPromotionLagMax: 20,
      readMode: options.readMode ?? 'safe',
      checkQuorumTimeouts: options.checkQuorumTimeouts ?? 1,
    };
    const voters = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    this.nextNodeNumber = options.nodes + 1;
    for (const id of voters) this.addNode(id, MemoryStorage.bootstrap(voters));
    const clientCount = 2 + this.rng.intBelow(4);
    for (let i = 0; i < clientCount; i++) this.clients.push({ id: i + 1, leaderHint: '', pending: null, seq: 0 });
  }

  run(): SimResult {
    for (; this.step < this.options.steps && !this.stopped(); this.step++) {
      this.nemesis();
      this.runStep(true);
      if (this.step % 10 === 0) this.checkLogs();
      if (this.step % backupIntervalSteps === 0 && this.options.rollback !== false) this.backUp();
    }
    // A run that already failed stops there: the seed replays it exactly.
    if (!this.stopped()) this.healAndCheckLiveness();
    if (!this.stopped()) this.finalChecks();
    return this.result();
  }

  /** The result of a run cut short by an assertion inside a core. */
  failedResult(detail: string): SimResult {
    this.monitor.record(this.step, 'invariant-assertion', detail);
    return this.result();
  }

  private result(): SimResult {
    return {
      seed: this.options.seed,
      nodes: this.options.nodes,
      steps: this.step,
      violations: this.monitor.violations,
      trace: this.traceLines,
      stats: { ...this.stats, messagesDelivered: this.net.delivered, messagesDropped: this.net.dropped },
    };
  }

  // ------------------------------------------------------------ one step

  private runStep(withClients: boolean): void {
    for (const m of this.net.due(this.step)) {
      const node = this.nodes.get(m.to);
      // A resumed process may serve a client before it reads its peers' messages.
      if (node?.core == null || node.pausedSteps > 0 || node.resumedStep === this.step) continue;
      if (this.options.trace) this.trace(`deliver ${m.from}->${m.to} ${m.type} t${m.term} i${m.index} lt${m.logTerm} n${m.entries.length} c${m.commit}${m.reject ? ' reject' : ''}${m.context ? ` ctx=${m.context}` : ''}`);
      node.core.step(m);
      this.noticeLeader(node);
    }
    for (const node of this.runningNodes()) {
      // Occasional skipped ticks model clock drift between machines.
      if (this.healed || !this.rng.chance(0.05) || !this.maySkipTick(node)) node.core!.tick();
      else if (this.config.readMode === 'lease') node.skippedTickSteps.push(this.step);
      this.noticeLeader(node);
      if (node.writing !== null) this.sendHeartbeatsWhileWriting(node);
    }
    if (withClients) this.clientsAct();
    for (const node of this.runningNodes()) {
      // A node may lag in handling its Ready (slow disk): a crash loses that state.
      if (this.healed || this.rng.chance(0.85)) this.processReady(node);
    }
    this.expireOps();
    this.retireNodes();
  }

  /**
   * A step is one unit of real time and a tick is due each step. In lease
   * mode a node skips at most leaseSafetyTicks − 1 ticks in any
   * electionTimeoutTicks steps: the slowest tick rate, against followers
   * ticking every step, under which the lease is safe (docs/raft.md,
   * "Lease-based reads"). Safe mode has no such bound.
   */
  private maySkipTick(node: SimNode): boolean {
    if (this.config.readMode !== 'lease') return true;
    const windowSteps = this.config.electionTimeoutTicks ?? RAFT_DEFAULTS.electionTimeoutTicks;
    const skipsMax = RAFT_DEFAULTS.leaseSafetyTicks - 1;
    while (node.skippedTickSteps.length > 0 && node.skippedTickSteps[0]! <= this.step - windowSteps) node.skippedTickSteps.shift();
    return node.skippedTickSteps.length < skipsMax;
  }

  /**
   * Drains the node's Readys as RaftNode does. Some writes stay in flight for
   * a few steps (`writing`): then, as in RaftNode.handleReady, a leader's
   * appends and heartbeats go out at once when the Ready changes neither term
   * nor vote, committed entries an earlier Ready wrote are applied at once,
   * and the rest (the other messages, the Ready's own entries) waits for the
   * write. A crash meanwhile loses the write.
   */
  private processReady(node: SimNode): void {
    const core = node.core!;
    for (let cycle = 0; cycle < readyCyclesPerStepMax; cycle++) {
      if (node.writing !== null) {
        if (this.step < node.writing.doneStep) return;
        const { rd, late } = node.writing;
        node.writing = null;
        this.finishReady(node, rd, late);
        continue;
      }
      if (!core.hasReady()) return;
      const rd = core.ready();
      if (this.options.plant === 'ready-twice' && rd.entries.length > 0) core.ready();
      if (this.healed || this.options.slowWrites === false || !this.writeRng.chance(slowWriteChance)) {
        this.finishReady(node, rd, rd.messages);
        continue;
      }
      const termOrVoteChanges = rd.hardState !== null && (rd.hardState.term !== node.storage.initialState().hardState.term || rd.hardState.vote !== node.storage.initialState().hardState.vote);
      const early = core.basicStatus().role === 'leader' && !termOrVoteChanges;
      const late: Message[] = [];
      for (const m of rd.messages) {
        if (early && (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap)) this.net.send(m, this.step);
        else late.push(m);
      }
      if (rd.snapshot === null) {
        const durable = Math.min(node.storage.lastIndex(), (rd.entries[0]?.index ?? Infinity) - 1);
        for (const entry of rd.committedEntries) if (entry.index <= durable) this.applyEntry(node, entry);
      }
      const doneStep = this.step + (this.writeRng.chance(0.1) ? 5 + this.writeRng.intBelow(11) : 1 + this.writeRng.intBelow(3));
      node.writing = { rd, late, doneStep };
      this.trace(`${node.id} writes ${rd.entries.length} entries${rd.hardState === null ? '' : ` and term ${rd.hardState.term}`} until step ${doneStep}; ${rd.messages.length - late.length} messages sent before`);
      return;
    }
  }

  /** The rest of a Ready: persist, send what waited, apply, advance. */
  private finishReady(node: SimNode, rd: Ready, messages: readonly Message[]): void {
    const core = node.core!;
    this.persist(node, rd);
    const copies = this.options.plant === 'resend-every-message' ? resendCopies : 1;
    for (const m of messages) for (let i = 0; i < copies; i++) this.net.send(m, this.step);
    if (this.options.plant === 'ack-on-append') this.ackOnAppend(node, rd);
    this.applyReady(node, rd);
    core.advance(rd);
    this.serveReads(node);
    this.maybeSnapshot(node);
  }

  /**
   * Tells the monitor of a node that just became leader, when its core does
   * (a message or a tick), not when its driver next takes a Ready: a write in
   * flight may hold that Ready back for many steps, while the node already
   * acts as leader (its heartbeats go out), and by then other terms may have
   * committed entries it need not hold.
   */
  private noticeLeader(node: SimNode): void {
    const core = node.core!;
    const { role, term } = core.basicStatus();
    if (role !== 'leader' || node.ledTerm === term) return;
    node.ledTerm = term;
    this.stats.leaderTerms++;
    this.trace(`${node.id} leads term ${term} voters=${core.appliedConfState().voters.join(",")} learners=${core.appliedConfState().learners.join(",")} applied=${core.basicStatus().applied} last=${core.log.lastIndex()}`);
    this.monitor.onLeader(this.step, node.id, term, core);
  }

  /** A tick while the node's write is in flight: a leader's heartbeats leave at once (RaftNode.sendHeartbeatsDuringWrite). */
  private sendHeartbeatsWhileWriting(node: SimNode): void {
    const core = node.core!;
    for (const m of core.takeHeartbeats()) {
      if (this.options.plant !== 'heartbeat-commit-while-writing') {
        this.net.send(m, this.step);
        continue;
      }
      const match = core.status().progress.get(m.to)?.match ?? 0;
      this.net.send({ ...m, commit: m.commit === 0 ? 0 : Math.min(match, core.basicStatus().commit) }, this.step);
    }
  }

  /**
   * Writes one Ready's state to the node's disk and keeps its durable record
   * as src/raft/storage/durable-record.ts prescribes: lowered before a batch that
   * replaces entries it names, raised after a batch that raises the term, the vote or
   * the last index. The record never claims more than the storage holds.
   */
  private persist(node: SimNode, rd: Ready): void {
    // As RaftNode: a change of the commit alone is not written (hardStateToWrite).
    if (rd.hardState !== null) node.latestHardState = rd.hardState;
    const hardState = hardStateToWrite(rd, node.storage.initialState().hardState, node.latestHardState);
    const update = { hardState, entries: rd.entries, snapshot: rd.snapshot };
    const lastAfter = lastIndexAfter(node.storage, update);
    if (lastAfter < node.record.lastIndex) {
      // Only after a planted unchecked recovery may the record claim more than the storage holds.
      const lastTerm = lastAfter <= node.storage.lastIndex() ? node.storage.term(lastAfter) : 0;
      node.record = { ...node.record, lastIndex: lastAfter, lastTerm, sequence: node.record.sequence + 1 };
    }
    node.storage.save(update);
    const now = recordOf(node.storage, node.record.sequence + 1);
    assert(now.lastIndex === lastAfter, `${node.id}: storage ends at ${now.lastIndex}, expected ${lastAfter}`);
    // A suffix replaced by one as long changes only the last entry's term.
    const r = node.record;
    if (now.term !== r.term || now.vote !== r.vote || now.lastIndex !== r.lastIndex || now.lastTerm !== r.lastTerm) node.record = now;
  }

  private applyReady(node: SimNode, rd: Ready): void {
    if (rd.snapshot !== null) {
      node.kv = KvStore.restore(rd.snapshot.data);
      this.trace(`${node.id} restores snapshot at ${rd.snapshot.metadata.index}`);
      this.monitor.onSnapshotRestored(this.step, node.id, node.kv.appliedIndex, node.kv.digest);
    }
    for (const entry of rd.committedEntries) if (entry.index > node.kv.appliedIndex) this.applyEntry(node, entry);
    for (const rs of rd.readStates) node.reads.set(rs.context, rs.index);
    for (const rf of rd.readFailures) this.finishRead(rf.context, 'failed', null);
  }

  private applyEntry(node: SimNode, entry: Entry): void {
    const command = node.kv.apply(entry);
    this.monitor.onApply(this.step, node.id, entry, node.kv.digest);
    this.onApplied(node, entry, command);
  }

  private onApplied(node: SimNode, entry: Entry, command: ReturnType<KvStore['apply']>): void {
    for (const client of this.clients) {
      const p = client.pending;
      if (p === null || p.op.kind !== 'put' || p.node !== node.id || p.index !== entry.index) continue;
      if (command !== null && command.clientId === client.id && command.opId === p.op.id) {
        this.monitor.onAck(entry.index, `[${client.id},${p.op.id},`);
        this.respond(client, 'ok', p.op.value);
      } else {
        // Another entry won this index: the proposal can never commit.
        this.respond(client, 'failed', null);
      }
    }
  }

  /** Planted 'ack-on-append': the leader answers a write once its own disk holds it. */
  private ackOnAppend(node: SimNode, rd: Ready): void {
    for (const client of this.clients) {
      const p = client.pending;
      if (p === null || p.op.kind !== 'put' || p.node !== node.id) continue;
      if (!rd.entries.some((e) => e.index === p.index && e.term === p.term)) continue;
      this.monitor.onAck(p.index, `[${client.id},${p.op.id},`);
      this.respond(client, 'ok', p.op.value);
    }
  }

  private serveReads(node: SimNode): void {
    for (const [context, index] of node.reads) {
      if (node.kv.appliedIndex < index) continue;
      node.reads.delete(context);
      const client = this.clients.find((c) => c.pending?.context === context);
      if (client !== undefined) this.respond(client, 'ok', node.kv.get(client.pending!.op.key));
    }
  }

  private maybeSnapshot(node: SimNode): void {
    const applied = node.kv.appliedIndex;
    const snapIndex = node.storage.snapshot().metadata.index;
    if (applied - snapIndex < node.snapshotIntervalEntries || applied > node.storage.lastIndex()) return;
    node.storage.createSnapshot(applied, node.core!.appliedConfState(), node.kv.serialize());
    const keep = this.rng.intBelow(4);
    node.storage.compact(Math.max(snapIndex, applied - keep));
    this.stats.snapshots++;
    this.trace(`${node.id} snapshots at ${applied}`);
    const oldest = node.storage.firstIndex();
    if (this.options.plant === 'corrupt-retained-entry' && oldest <= applied && corruptEntry(node.storage, oldest)) {
      this.trace(`${node.id} corrupts retained entry ${oldest}`);
    }
  }

  // ------------------------------------------------------------ clients

  private clientsAct(): void {
    for (const client of this.clients) {
      if (client.pending !== null || !this.rng.chance(0.3)) continue;
      const target = this.pickTarget(client);
      if (target === null) continue;
      const putRate = this.options.profile === 'churn' ? 0.8 : 0.5;
      const put = this.rng.chance(putRate);
      // A paused node takes reads into its inbox (see invokeGet); a write waits for a running one.
      if (put && target.pausedSteps > 0) continue;
      if (put) this.invokePut(client, target);
      else this.invokeGet(client, target);
    }
  }

  private pickTarget(client: SimClient): SimNode | null {
    const hinted = this.nodes.get(client.leaderHint);
    if (hinted?.core != null && this.rng.chance(0.8)) return hinted;
    const live = this.runningNodes();
    return live.length === 0 ? null : live[this.rng.intBelow(live.length)]!;
  }

  private invokePut(client: SimClient, node: SimNode): void {
    const key = this.keys[this.rng.intBelow(this.keys.length)]!;
    const opId = this.nextOpId++;
    const value = `c${client.id}.${++client.seq}`;
    try {
      const at = node.core!.propose(encodeCommand({ clientId: client.id, opId, key, value }));
      const op = { id: opId, clientId: client.id, kind: 'put' as const, key, value, invokeStep: this.clock++ };
      client.pending = { op, node: node.id, startedStep: this.step, index: at.index, term: at.term, context: '' };
      this.trace(`client ${client.id} put ${key}=${value} via ${node.id} at ${at.index}`);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      if (err instanceof NotLeaderError) client.leaderHint = err.leaderId;
      this.stats.opsFailed++;
    }
  }

  private invokeGet(client: SimClient, node: SimNode): void {
    const key = this.keys[this.rng.intBelow(this.keys.length)]!;
    const opId = this.nextOpId++;
    const context = `r${opId}`;
    const op = { id: opId, clientId: client.id, kind: 'get' as const, key, value: null, invokeStep: this.clock++ };
    client.pending = { op, node: node.id, startedStep: this.step, index: 0, term: 0, context };
    if (node.pausedSteps > 0) {
      // Sent to a paused process: it waits in its socket until the process resumes.
      node.inbox.push(() => {
        if (client.pending?.context === context) this.submitGet(client, node, key, context);
      });
      return;
    }
    this.submitGet(client, node, key, context);
  }

  private submitGet(client: SimClient, node: SimNode, key: string, context: string): void {
    if (this.options.readWithoutReadIndex && node.core!.basicStatus().role === 'leader') {
      // Planted bug: trust our own belief that we lead.
      this.respond(client, 'ok', node.kv.get(key));
      return;
    }
    node.core!.readIndex(context);
    if (node.core!.basicStatus().role !== 'leader') client.leaderHint = node.core!.basicStatus().leader;
  }

  private finishRead(context: string, outcome: 'ok' | 'failed', value: string | null): void {
    const client = this.clients.find((c) => c.pending?.context === context);
    if (client !== undefined) this.respond(client, outcome, value);
  }

  private respond(client: SimClient, outcome: 'ok' | 'failed' | 'unknown', value: string | null): void {
    const p = client.pending!;
    client.pending = null;
    if (outcome === 'failed') {
      // Definitely no effect: it leaves no trace in the history.
      this.stats.opsFailed++;
      return;
    }
    if (outcome === 'unknown') {
      this.stats.opsUnknown++;
      this.history.push({ ...p.op, responseStep: null });
      return;
    }
    this.stats.opsOk++;
    if (p.op.kind === 'get') {
      this.stats.readsOk++;
      this.stats.readWaitSteps += this.step - p.startedStep;
    }
    this.history.push({ ...p.op, value: p.op.kind === 'get' ? value : p.op.value, responseStep: this.clock++ });
    this.trace(`client ${client.id} ${p.op.kind} ${p.op.key} -> ${p.op.kind === 'get' ? String(value) : 'ok'}`);
  }

  private expireOps(): void {
    for (const client of this.clients) {
      const p = client.pending;
      if (p === null) continue;
      const node = this.nodes.get(p.node);
      if (node?.core == null || this.step - p.startedStep > opTimeoutSteps) this.respond(client, 'unknown', null);
    }
  }

  // ------------------------------------------------------------ faults

  private nemesis(): void {
    for (const node of this.nodes.values()) {
      if (node.core === null && !node.retired && node.downSteps > 0 && --node.downSteps === 0) this.restart(node);
    }
    if (this.options.rollback !== false && this.rollbackRng.chance(rollbackChancePerStep)) this.rollbackFault();
    if (this.config.readMode === 'lease') this.pauseFault();
    this.leaderChurn();
    if (this.options.profile === 'churn') {
      // Every leader dies a few steps into its term, after taking writes,
      // while a majority stays up (after MIT 6.824's Figure 8 test).
      this.churnRemaining = 1;
      if (this.faultRng.chance(this.faultRate)) this.networkConditionsFault();
      return;
    }
    if (!this.faultRng.chance(this.faultRate)) return;
    const roll = this.faultRng.intBelow(100);
    if (roll < 22) this.partitionFault();
    else if (roll < 32) this.net.healAll();
    else if (roll < 50) this.crashFault();
    else if (roll < 62) this.networkConditionsFault();
    else if (roll < 80 && this.options.membership !== false) this.membershipFault();
    else if (roll < 87) this.transferFault();
    else if (roll < 94) this.startLeaderChurn();
    else this.tightenSnapshots();
  }

  /** A burst in which each new leader crashes a few steps after taking office. */
  private startLeaderChurn(): void {
    this.churnRemaining = 2 + this.faultRng.intBelow(4);
    this.trace(`leader churn x${this.churnRemaining}`);
  }

  private leaderChurn(): void {
    if (this.churnRemaining === 0) return;
    const leader = this.leaderNode();
    if (leader === null) return;
    const term = leader.core!.basicStatus().term;
    if (this.churnTerm !== term) {
      this.churnTerm = term;
      this.churnCrashAt = this.step + 1 + this.faultRng.intBelow(6);
    } else if (this.step >= this.churnCrashAt && this.downCount() < Math.floor((this.memberIds().length - 1) / 2)) {
      this.crash(leader, 2 + this.faultRng.intBelow(20));
      this.churnRemaining--;
    }
  }

  private partitionFault(): void {
    const ids = this.memberIds();
    const shuffled = this.shuffle(ids);
    const kind = this.faultRng.intBelow(3);
    if (kind === 0) {
      // Isolating the leader while clients still write to it grows divergent tails.
      const leader = this.leaderNode();
      const alone = leader !== null && this.faultRng.chance(0.6) ? leader.id : shuffled[0]!;
      this.net.partition([[alone], ids.filter((id) => id !== alone)]);
    } else if (kind === 1) {
      const cut = 1 + this.faultRng.intBelow(shuffled.length - 1);
      this.net.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else {
      this.net.majoritiesRing(shuffled);
    }
    this.trace(`partition ${this.net.describeCuts()}`);
  }

  /**
   * Lease mode: pauses a node (often the leader) for 5–44 steps, as SIGSTOP
   * or a long event-loop stall would: it neither ticks nor hears anything,
   * and messages sent to it meanwhile are lost; in the step it resumes its
   * clients get in before its peers' messages. On resuming, a leader's
   * lease clock is advanced by the steps it missed, as RaftNode advances it
   * by its real clock, so that its lease does not outlive the pause.
   */
  private pauseFault(): void {
    for (const node of this.liveNodes()) {
      if (node.pausedSteps === 0) continue;
      node.pausedForSteps++;
      if (--node.pausedSteps === 0) this.resume(node);
    }
    if (this.healed || !this.pauseRng.chance(pauseChancePerStep)) return;
    const running = this.runningNodes();
    if (running.length === 0) return;
    const leader = running.find((n) => n.core!.basicStatus().role === 'leader');
    const victim = leader !== undefined && this.pauseRng.chance(0.7) ? leader : running[this.pauseRng.intBelow(running.length)]!;
    victim.pausedSteps = 5 + this.pauseRng.intBelow(40);
    victim.pausedForSteps = 0;
    this.trace(`pause ${victim.id} for ${victim.pausedSteps} steps`);
  }

  private resume(node: SimNode): void {
    const core = node.core!;
    this.trace(`resume ${node.id} after ${node.pausedForSteps} steps`);
    node.resumedStep = this.step;
    if (this.options.plant !== 'pause-without-catch-up') core.advanceLeaseClock(node.pausedForSteps);
    const inbox = node.inbox;
    node.inbox = [];
    for (const handle of inbox) handle();
  }

  private crashFault(): void {
    const live = this.liveNodes();
    if (live.length === 0) return;
    const leader = live.find((n) => n.core!.basicStatus().role === 'leader');
    const victim = leader !== undefined && this.faultRng.chance(0.5) ? leader : live[this.faultRng.intBelow(live.length)]!;
    this.crash(victim, 2 + this.faultRng.intBelow(this.faultRng.chance(0.5) ? 15 : 60));
  }

  /** Kills a node: whatever its storage did not hold is gone. */
  private crash(victim: SimNode, downSteps: number, rng: SeededRng = this.faultRng): void {
    victim.core = null;
    victim.writing = null;
    victim.reads.clear();
    victim.downSteps = downSteps;
    victim.pausedSteps = 0;
    victim.inbox = [];
    this.net.forget(victim.id, rng.chance(0.5) ? 1 : 0);
    this.stats.crashes++;
    this.trace(`crash ${victim.id} for ${downSteps} steps`);
    // A killed process's connections close at once: every peer's transport
    // tells its node (RaftNode.onPeerLost), which matters to the victim's followers.
    for (const node of this.liveNodes()) node.core!.reportPeerLost(victim.id);
  }

  /**
   * Restores a node's disk from one of its earlier backups (an operator's
   * restore, a snapshot of a VM or volume) while it is down. Its durable
   * record is not rolled back, so on restart the node should refuse to start
   * (`restart`). A run refuses at most one node (a permanent failure), so a majority stays.
   */
  private rollbackFault(): void {
    if (this.nodesRefused() > 0) return;
    const candidates = [...this.nodes.values()].filter((n) => !n.retired && n.backups.length > 0);
    if (candidates.length === 0) return;
    const victim = candidates[this.rollbackRng.intBelow(candidates.length)]!;
    const keep = this.rollbackRng.intBelow(victim.backups.length);
    const backup = victim.backups[keep]!;
    victim.backups = victim.backups.slice(0, keep + 1);
    const before = observedDurableState(victim.storage);
    if (victim.core !== null) {
      // Like a crash, it keeps a majority up under the churn profile.
      if (this.options.profile === 'churn' && this.downCount() >= Math.floor((this.memberIds().length - 1) / 2)) return;
      this.crash(victim, 2 + this.rollbackRng.intBelow(20), this.rollbackRng);
    }
    victim.storage = cloneStorage(backup);
    victim.rolledBack = true;
    const after = observedDurableState(victim.storage);
    this.stats.rollbacks++;
    this.trace(`roll back ${victim.id} from term ${before.term} vote ${before.vote || '-'} last ${before.lastIndex} to term ${after.term} vote ${after.vote || '-'} last ${after.lastIndex}`);
  }

  /** Copies every live node's storage: the backups a rollback restores. */
  private backUp(): void {
    for (const node of this.liveNodes()) {
      node.backups.push(cloneStorage(node.storage));
      if (node.backups.length > backupsMax) node.backups.shift();
    }
  }

  private networkConditionsFault(): void {
    this.net.conditions = {
      dropRate: [0, 0.02, 0.1, 0.3][this.faultRng.intBelow(4)]!,
      duplicateRate: [0, 0.02, 0.1][this.faultRng.intBelow(3)]!,
      delayMaxSteps: [1, 2, 4, 8][this.faultRng.intBelow(4)]!,
    };
    this.trace(`network ${JSON.stringify(this.net.conditions)}`);
  }

  private membershipFault(): void {
    const leader = this.leaderNode();
    if (leader === null) return;
    const conf = leader.core!.appliedConfState();
    try {
      if (conf.learners.length > 0) {
        leader.core!.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: conf.learners[0]!, context: new Uint8Array(0) });
        this.trace(`propose promote ${conf.learners[0]}`);
      } else if (conf.voters.length > this.options.nodes && this.faultRng.chance(0.7)) {
        const victim = conf.voters[this.faultRng.intBelow(conf.voters.length)]!;
        leader.core!.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: victim, context: new Uint8Array(0) });
        const retiree = this.options.plant === 'retire-wrong-node' ? (conf.voters.find((id) => id !== victim && id !== leader.id) ?? victim) : victim;
        this.nodes.get(retiree)!.retireAt = this.step + 60;
        this.trace(`propose remove ${victim}`);
      } else if (conf.voters.length < this.options.nodes + 2) {
        const id = `n${this.nextNodeNumber}`;
        leader.core!.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: id, context: new Uint8Array(0) });
        this.nextNodeNumber++;
        this.addNode(id, new MemoryStorage());
        this.trace(`propose add learner ${id}`);
      } else {
        return;
      }
      this.stats.membershipChanges++;
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      this.trace(`membership change refused: ${err.name}`);
    }
  }

  private transferFault(): void {
    const leader = this.leaderNode();
    if (leader === null) return;
    const voters = leader.core!.appliedConfState().voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = voters[this.faultRng.intBelow(voters.length)]!;
    leader.core!.transferLeadership(to);
    this.trace(`transfer leadership ${leader.id} -> ${to}`);
  }

  private tightenSnapshots(): void {
    for (const node of this.nodes.values()) node.snapshotIntervalEntries = 5 + this.faultRng.intBelow(40);
  }

  // ------------------------------------------------------------ end of run

  private healAndCheckLiveness(): void {
    this.healed = true;
    this.net.healAll();
    this.net.conditions = { ...RELIABLE };
    for (const node of this.nodes.values()) {
      if (node.core === null && !node.retired && !node.refused) this.restart(node);
      if (node.core !== null && node.pausedSteps > 0) {
        node.pausedSteps = 0;
        this.resume(node);
      }
    }
    this.trace('heal everything');
    const deadline = this.step + livenessTicksMax;
    let probeOp: { index: number; term: number; node: NodeId } | null = null;
    let probeCommitted = false;
    let leader: SimNode | null = null;
    for (; this.step < deadline && !this.stopped(); this.step++) {
      this.runStep(false);
      leader = this.leaderNode();
      if (leader === null) continue;
      if (!probeCommitted && (probeOp === null || probeOp.node !== leader.id)) {
        try {
          probeOp = { ...leader.core!.propose(new TextEncoder().encode(JSON.stringify([0, 0, 'probe', 'x']))), node: leader.id };
        } catch {
          probeOp = null;
        }
      } else if (probeOp !== null && leader.kv.appliedIndex >= probeOp.index) {
        probeCommitted = true;
        if (this.laggingMembers(leader).length === 0) return;
      }
    }
    if (this.stopped()) return;
    if (!probeCommitted) {
      const live = this.liveNodes().map((n) => n.id).join(',');
      this.monitor.record(this.step, 'liveness', `no leader committed a write within ${livenessTicksMax} ticks after healing (live: ${live}; leader: ${leader?.id ?? 'none'})`);
      return;
    }
    const lagging = this.laggingMembers(leader!);
    this.monitor.record(
      this.step,
      'members-not-caught-up',
      `members ${lagging.join(', ')} never caught up with ${leader!.id}'s commit ${leader!.core!.basicStatus().commit} within ${livenessTicksMax} ticks after healing`,
    );
  }

  /**
   * Members of the leader's applied configuration that are down or behind
   * its commit, each with why. A node that refused to start on rolled-back
   * storage is left out: it stays down until an operator replaces it.
   */
  private laggingMembers(leader: SimNode): string[] {
    const commit = leader.core!.basicStatus().commit;
    const members = leader.core!.appliedConfState();
    const lagging: string[] = [];
    for (const id of [...members.voters, ...members.learners]) {
      const node = this.nodes.get(id);
      if (node?.refused === true) continue;
      if (node?.core == null) lagging.push(`${id} (${node?.retired === true ? 'retired' : 'down'})`);
      else if (node.kv.appliedIndex < commit) lagging.push(`${id} (applied ${node.kv.appliedIndex})`);
    }
    return lagging;
  }

  private finalChecks(): void {
    this.checkLogs();
    const leader = this.leaderNode();
    if (leader !== null) this.monitor.checkAckedWrites(this.step, leader.core!.basicStatus().commit);
    for (const client of this.clients) if (client.pending !== null) this.respond(client, 'unknown', null);
    const result = checkLinearizable(this.history);
    if (!result.ok) this.monitor.record(this.step, 'not-linearizable', `key ${result.key}: ${result.explanation ?? ''}`);
  }

  private checkLogs(): void {
    const live = this.liveNodes();
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        this.monitor.checkLogMatching(this.step, { id: live[i]!.id, core: live[i]!.core! }, { id: live[j]!.id, core: live[j]!.core! });
      }
    }
  }

  // ------------------------------------------------------------ helpers

  private addNode(id: NodeId, storage: MemoryStorage): void {
    const node: SimNode = {
      id,
      storage,
      core: null,
      kv: new KvStore(),
      reads: new Map(),
      downSteps: 0,
      retireAt: null,
      retired: false,
      snapshotIntervalEntries: 10 + this.rng.intBelow(60),
      record: recordOf(storage),
      backups: [],
      rolledBack: false,
      refused: false,
      skippedTickSteps: [],
      pausedSteps: 0,
      pausedForSteps: 0,
      resumedStep: -1,
      inbox: [],
      writing: null,
      ledTerm: 0,
      latestHardState: storage.initialState().hardState,
    };
    this.nodes.set(id, node);
    this.restart(node);
  }

  /**
   * Starts (or restarts) a node from what its storage holds: the state that
   * survived. Like the coordinator, it first compares the storage with its
   * durable record and refuses to start on storage that went back.
   */
  private restart(node: SimNode): void {
    const problems = this.options.plant === 'recover-without-check' ? null : this.durableStateProblems(node);
    if (problems !== null) {
      node.refused = true;
      node.downSteps = 0;
      this.stats.refusedRestarts++;
      this.trace(`${node.id} refuses to start: ${problems.join('; ')}`);
      return;
    }
    node.rolledBack = false;
    const config: RaftConfig = { ...this.config, id: node.id, storage: node.storage, rng: this.rng.fork() };
    node.core = this.options.coreFactory ? this.options.coreFactory(config) : new RaftCore(config);
    node.kv = this.options.plant === 'restart-without-snapshot-state' ? new KvStore() : KvStore.restore(node.storage.snapshot().data);
    node.reads.clear();
    node.writing = null;
    node.ledTerm = 0;
    node.latestHardState = node.storage.initialState().hardState;
    node.downSteps = 0;
    this.trace(`start ${node.id} (term ${node.storage.initialState().hardState.term}, last ${node.storage.lastIndex()})`);
  }

  private retireNodes(): void {
    for (const node of this.nodes.values()) {
      if (node.retireAt === null || node.retired || this.step < node.retireAt) continue;
      const leader = this.leaderNode();
      if (leader === null || leader.id === node.id) continue;
      if (!this.mayRetire(leader, node.id)) continue;
      node.retired = true;
      node.core = null;
      node.writing = null;
      this.net.forget(node.id, 0);
      this.trace(`retire ${node.id}`);
    }
  }

  /** The retire rule, or a planted wrong one. */
  private mayRetire(leader: SimNode, id: NodeId): boolean {
    if (this.options.plant === 'retire-wrong-node') return true;
    if (this.options.plant === 'retire-on-voters-only') return !leader.core!.appliedConfState().voters.includes(id);
    return this.removalIsFinal(leader, id);
  }

  /** True when `id` can never be a member again (see `removalIsFinal`, applied to `leader`'s view). */
  private removalIsFinal(leader: SimNode, id: NodeId): boolean {
    const core = leader.core!;
    const status = core.basicStatus();
    const unapplied = core.log.slice(status.applied + 1, core.log.lastIndex() + 1, Number.POSITIVE_INFINITY);
    return removalIsFinal(id, {
      leaderTerm: status.term,
      highestTerm: this.highestTerm(),
      commitTerm: core.log.termOrZero(status.commit),
      appliedConf: core.appliedConfState(),
      unappliedConfChangeIds: unapplied.filter((e) => e.type === EntryType.ConfChange).map((e) => decodeConfChange(e.data, e.index).nodeId),
      votersApplied: core.appliedConfState().voters.filter((v) => {
        const conf = this.nodes.get(v)?.core?.appliedConfState();
        return conf !== undefined && !conf.voters.includes(id) && !conf.learners.includes(id);
      }).length,
    });
  }

  /** The highest term any node knows, down nodes included (from their storage). */
  private highestTerm(): number {
    let term = 0;
    for (const node of this.nodes.values()) {
      if (node.retired) continue;
      term = Math.max(term, node.core !== null ? node.core.basicStatus().term : node.storage.initialState().hardState.term);
    }
    return term;
  }

  /** What the node's storage lost against its durable record, or null. */
  private durableStateProblems(node: SimNode): string[] | null {
    // The planted bug checks the index, the term and the vote, but not the last entry's term.
    const termAt = this.options.plant === 'record-without-last-term' ? () => null : termAtOf(node.storage);
    return checkDurableState(node.record, observedDurableState(node.storage), termAt);
  }

  /**
   * Nodes refused (retired ones too), or rolled back and not started since.
   * A refused node is a permanent failure; a run has at most one, which any
   * configuration of at least three voters survives.
   */
  private nodesRefused(): number {
    let refused = 0;
    for (const node of this.nodes.values()) if (node.refused || node.rolledBack) refused++;
    return refused;
  }

  /** True once a violation was recorded (or the network stormed). */
  private stopped(): boolean {
    if (this.net.delivered > (this.step + 1) * messagesPerStepMax) {
      this.monitor.record(this.step, 'message-storm', `${this.net.delivered} messages delivered in ${this.step + 1} steps`);
    }
    return this.monitor.violations.length > 0;
  }

  private downCount(): number {
    let down = 0;
    for (const node of this.nodes.values()) if (node.core === null && !node.retired) down++;
    return down;
  }

  /** Live and not paused. */
  private runningNodes(): SimNode[] {
    return this.liveNodes().filter((n) => n.pausedSteps === 0);
  }

  private liveNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const node of this.nodes.values()) if (node.core !== null) out.push(node);
    return out;
  }

  private memberIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
  }

  /** The live leader of the highest term, if any. */
  private leaderNode(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.liveNodes()) {
      const status = node.core!.basicStatus();
      if (status.role === 'leader' && status.term > bestTerm) {
        best = node;
        bestTerm = status.term;
      }
    }
    return best;
  }

  private shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.faultRng.intBelow(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  private trace(line: string): void {
    if (this.options.trace) this.traceLines.push(`[${this.step}] ${line}`);
  }
}

/** What the simulator's retire rule reads from the leader (`removalIsFinal`). */
export interface RetireView {
  /** The leader's term, and the highest term any node holds, down nodes included. */
  readonly leaderTerm: number;
  readonly highestTerm: number;
  /** The term of the leader's commit index entry. */
  readonly commitTerm: number;
  readonly appliedConf: ConfState;
  /** The node ids the configuration entries after the leader's applied index name. */
  readonly unappliedConfChangeIds: readonly NodeId[];
  /** How many of the voters of `appliedConf` are up and have applied a configuration without the node (the leader included). */
  readonly votersApplied: number;
}

/**
 * True when `id` can never be a member again, so stopping it for good is
 * safe. The removal proposed for it may have been lost in a leader change
 * while an earlier promotion still sits in the log (seed 12086 in the old
 * core), so it takes all of:
 * - the leader leads the highest term any node holds and has committed an
 *   entry of that term, so its log holds every committed entry and every
 *   entry that may still commit (later entries of older terms never can);
 * - its applied configuration names `id` neither as voter nor as learner;
 * - no configuration entry after its applied index names `id`;
 * - a majority of those voters have applied a configuration without `id`:
 *   were the leader lost before the others heard of the removal's commit,
 *   they would still count `id` and need it for a majority (seed 108694).
 * Nothing later proposes `id` again: new members get fresh ids.
 */
export function removalIsFinal(id: NodeId, view: RetireView): boolean {
  if (view.leaderTerm < view.highestTerm || view.commitTerm !== view.leaderTerm) return false;
  if (view.appliedConf.voters.includes(id) || view.appliedConf.learners.includes(id)) return false;
  if (view.votersApplied * 2 <= view.appliedConf.voters.length) return false;
  return !view.unappliedConfChangeIds.includes(id);
}

export function simulate(options: SimOptions): SimResult {
  const sim = new Simulation(options);
  try {
    return sim.run();
  } catch (err) {
    // The core asserting on a broken invariant is a finding, not a harness error.
    if (!(err instanceof AssertionFailure)) throw err;
    return sim.failedResult(`core assertion: ${err.message}`);
  }
}
