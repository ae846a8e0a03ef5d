import { assert, CompactedError } from './errors.js';
import type { Progress } from './progress.js';
import type { RaftLog } from './raft-log.js';
import type { ProgressTracker } from './tracker.js';
import { entriesBytes, message, MessageType, type Entry, type Message, type NodeId } from './types.js';

/** What the leader's replication needs from the core. */
export interface ReplicationHost {
  readonly id: NodeId;
  /** The leader's current term. */
  term(): number;
  /** What heartbeats carry in `index`: lease mode, the leader's tick count (RaftCore.leaderTicks); else 0. */
  heartbeatTick(): number;
  /** Queues a message (in the core's outgoing order). */
  send(m: Message): void;
  /** Commits what a quorum holds; true when the commit index advanced. */
  maybeCommit(): boolean;
  /** Sends every follower its next append (and settles pending proposal batches). */
  broadcastAppend(): void;
}

export interface ReplicationLimits {
  readonly messageBytesMax: number;
  readonly inflightMessagesMax: number;
  readonly snapshotTimeoutTicks: number;
}

/**
 * The leader's side of log replication: what to send each follower given its
 * `Progress` (probe / replicate / snapshot), and how its answers move that
 * progress. Used only while the core leads; it keeps no state of its own
 * beyond the tracker's progress.
 */
export class Replication {
  constructor(
    private readonly host: ReplicationHost,
    private readonly log: RaftLog,
    private readonly tracker: ProgressTracker,
    private readonly limits: ReplicationLimits,
  ) {}

  /** Sends the next entries (or a snapshot) to `to`; false when nothing was sent. */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      entries = this.log.entriesFrom(pr.next, this.limits.messageBytesMax);
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      return this.sendSnapshot(to, pr);
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const bytes = entriesBytes(entries);
    this.host.send(message({ type: MessageType.App, from: this.host.id, to, term: this.host.term(), index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed }));
    pr.sentEntries(entries.length, prevIndex + entries.length, bytes);
    return true;
  }

  /** Appends to every member but the leader. */
  sendAppendToAll(): void {
    for (const id of this.tracker.members()) if (id !== this.host.id) this.sendAppend(id, true);
  }

  broadcastHeartbeat(context: string): void {
    for (const id of this.tracker.members()) {
      if (id === this.host.id) continue;
      const pr = this.tracker.progress.get(id)!;
      // Never tell a follower to commit past what it is known to hold; a
      // regressed one may hold other entries at those indexes, so nothing.
      // `reject` tells it the leader cannot catch it up (it is not ready).
      const regressed = pr.regression !== null;
      const commit = regressed ? 0 : Math.min(pr.match, this.log.committed);
      // `index` dates the heartbeat for the lease; the answer echoes it.
      const sentTick = this.host.heartbeatTick();
      this.host.send(message({ type: MessageType.Heartbeat, from: this.host.id, to: id, term: this.host.term(), index: sentTick, commit, context, reject: regressed }));
    }
  }

  /** Handles an append answer; returns the follower's progress when it advanced. */
  onAppendResponse(m: Message): Progress | null {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return null;
    pr.recentActive = true;
    if (m.reject) {
      if (m.rejectHint < pr.match && m.index >= pr.match) {
        // A follower's log never shrinks below what it acknowledged to this
        // leader: it went back (an older copy of its data directory). etcd's
        // maybeDecrTo would call this stale and retry match + 1 for ever.
        pr.markRegressed(m.rejectHint);
        return null;
      }
      let probeFrom = m.rejectHint;
      if (m.logTerm > 0) probeFrom = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, probeFrom)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return null;
    }
    assert(m.index <= this.log.lastIndex(), `${m.from} acknowledged ${m.index}, past the leader's last index ${this.log.lastIndex()}`);
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return null;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.host.maybeCommit()) {
      this.host.broadcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from, true);
    }
    // Pipeline: keep sending while the window allows and entries remain.
    let sentMax = this.limits.inflightMessagesMax;
    while (sentMax-- > 0 && this.sendAppend(m.from, false));
    return pr;
  }

  /** Handles a heartbeat answer: the follower is alive, so resume sending to it. */
  onHeartbeatResponse(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // One leader per term, so an answer of this term echoes one of our ticks.
    assert(m.index <= this.host.heartbeatTick(), `${m.from} echoed heartbeat tick ${m.index}, past the leader's ${this.host.heartbeatTick()}`);
    pr.heartbeatAckTick = Math.max(pr.heartbeatAckTick, m.index);
    // A full window with the follower still answering suggests lost appends:
    // free one slot so the next append exposes the gap (and a rejection).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    // A regressed follower gets one probe per heartbeat: its answer clears a false alarm.
    if (pr.match < this.log.lastIndex() || pr.regression !== null) this.sendAppend(m.from, true);
  }

  /**
   * Forgets what `to` acknowledged and probes it from its last reported index
   * (or the leader's last index when it reported none): the repair of a
   * follower whose log went back. Returns where probing starts.
   */
  resetProgress(to: NodeId): number {
    const pr = this.tracker.progress.get(to);
    assert(pr !== undefined, `no progress for ${to}`);
    const probeFrom = Math.min(pr.regression?.followerLastIndex ?? this.log.lastIndex(), this.log.lastIndex());
    pr.reset(probeFrom);
    this.sendAppend(to, true);
    return probeFrom;
  }

  /** A snapshot unacknowledged for too long was probably lost: probe again. */
  tickSnapshots(): void {
    for (const pr of this.tracker.progress.values()) {
      if (pr.state !== 'snapshot') continue;
      pr.snapshotElapsedTicks++;
      if (pr.snapshotElapsedTicks >= this.limits.snapshotTimeoutTicks) pr.becomeProbe();
    }
  }

  /** The transport could not reach `to`; stop pipelining to it. */
  reportUnreachable(to: NodeId): void {
    const pr = this.tracker.progress.get(to);
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** The transport finished (or failed) sending a snapshot to `to`. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Wait for the follower's append response before sending more.
    pr.becomeProbe();
    pr.probeSent = true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.log.snapshot();
    assert(snapshot.metadata.index > 0, 'entries compacted but no snapshot to send');
    this.host.send(message({ type: MessageType.Snap, from: this.host.id, to, term: this.host.term(), snapshot }));
    pr.becomeSnapshot(snapshot.metadata.index);
    return true;
  }
}
