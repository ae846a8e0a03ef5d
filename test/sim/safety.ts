import { EntryType, type Entry, type NodeId, type RaftCore } from '../../src/raft/index.js';

const decoder = new TextDecoder();

export interface Violation {
  readonly step: number;
  readonly kind:
    | 'two-leaders'
    | 'log-matching'
    | 'leader-completeness'
    | 'state-machine-safety'
    | 'acked-write-lost'
    | 'divergent-replicas'
    | 'not-linearizable'
    | 'liveness'
    | 'members-not-caught-up'
    | 'message-storm'
    | 'invariant-assertion';
  readonly detail: string;
}

function entryKey(entry: Entry): string {
  return `${entry.term}/${entry.type}/${entry.type === EntryType.Normal ? decoder.decode(entry.data) : entry.data.join('.')}`;
}

/**
 * Raft's safety properties, checked as the simulation runs. Each check reads
 * the real cores' logs and the applied streams; none trusts the code under
 * test to report its own correctness.
 */
export class SafetyMonitor {
  readonly violations: Violation[] = [];
  /** Leader seen for each term. */
  private readonly leaders = new Map<number, NodeId>();
  /** Every entry any replica applied, by index: all replicas must agree. */
  private readonly applied = new Map<number, string>();
  /** Application digest after applying each index. */
  private readonly digests = new Map<number, number>();
  /** Writes acknowledged to clients, by log index. */
  readonly ackedWrites = new Map<number, string>();
  maxAppliedIndex = 0;

  constructor(private readonly violationsMax = 20) {}

  private fail(step: number, kind: Violation['kind'], detail: string): void {
    if (this.violations.length < this.violationsMax) this.violations.push({ step, kind, detail });
  }

  /** Election safety: at most one leader per term. */
  onLeader(step: number, id: NodeId, term: number, core: RaftCore): void {
    const previous = this.leaders.get(term);
    if (previous !== undefined && previous !== id) {
      this.fail(step, 'two-leaders', `term ${term} has leaders ${previous} and ${id}`);
    }
    this.leaders.set(term, id);
    this.checkLeaderCompleteness(step, id, term, core);
  }

  /** Leader completeness: a new leader holds every entry already applied anywhere. */
  private checkLeaderCompleteness(step: number, id: NodeId, term: number, core: RaftCore): void {
    const log = core.log;
    if (log.lastIndex() < this.maxAppliedIndex) {
      this.fail(step, 'leader-completeness', `leader ${id} of term ${term} ends at ${log.lastIndex()} but ${this.maxAppliedIndex} was applied`);
      return;
    }
    const from = Math.max(log.firstIndex(), 1);
    if (from > this.maxAppliedIndex) return;
    for (const entry of log.slice(from, this.maxAppliedIndex + 1, Number.POSITIVE_INFINITY)) {
      const expected = this.applied.get(entry.index);
      if (expected !== undefined && expected !== entryKey(entry)) {
        this.fail(step, 'leader-completeness', `leader ${id} of term ${term} has ${entryKey(entry)} at ${entry.index}, committed was ${expected}`);
        return;
      }
    }
  }

  /** State machine safety: every replica applies the same entry at each index. */
  onApply(step: number, id: NodeId, entry: Entry, digestAfter: number): void {
    const key = entryKey(entry);
    const expected = this.applied.get(entry.index);
    if (expected === undefined) {
      this.applied.set(entry.index, key);
      this.digests.set(entry.index, digestAfter);
      if (entry.index > this.maxAppliedIndex) this.maxAppliedIndex = entry.index;
      return;
    }
    if (expected !== key) this.fail(step, 'state-machine-safety', `${id} applied ${key} at ${entry.index}, another replica applied ${expected}`);
    else this.checkDigest(step, id, entry.index, digestAfter);
  }

  /** A restored snapshot must leave the application exactly where the replicas were. */
  onSnapshotRestored(step: number, id: NodeId, index: number, digest: number): void {
    this.checkDigest(step, id, index, digest);
  }

  private checkDigest(step: number, id: NodeId, index: number, digest: number): void {
    const expected = this.digests.get(index);
    if (expected !== undefined && expected !== digest) {
      this.fail(step, 'divergent-replicas', `${id} has digest ${digest} at ${index}, expected ${expected}`);
    }
  }

  onAck(index: number, opLabel: string): void {
    this.ackedWrites.set(index, opLabel);
  }

  /**
   * Log matching: if two logs hold an entry with the same index and term,
   * they hold the same entries up to there.
   */
  checkLogMatching(step: number, a: { id: NodeId; core: RaftCore }, b: { id: NodeId; core: RaftCore }): void {
    const la = a.core.log;
    const lb = b.core.log;
    const lo = Math.max(la.firstIndex(), lb.firstIndex());
    const hi = Math.min(la.lastIndex(), lb.lastIndex());
    if (lo > hi) return;
    let top = hi;
    while (top >= lo && la.term(top) !== lb.term(top)) top--;
    if (top < lo) return;
    const ea = la.slice(lo, top + 1, Number.POSITIVE_INFINITY);
    const eb = lb.slice(lo, top + 1, Number.POSITIVE_INFINITY);
    for (let i = 0; i < ea.length; i++) {
      if (entryKey(ea[i]!) !== entryKey(eb[i]!)) {
        this.fail(step, 'log-matching', `${a.id} and ${b.id} agree at ${top} (term ${la.term(top)}) but differ at ${lo + i}`);
        return;
      }
    }
  }

  /** Every acknowledged write sits, committed, at the index it was acknowledged at. */
  checkAckedWrites(step: number, leaderCommit: number): void {
    for (const [index, label] of this.ackedWrites) {
      if (index > leaderCommit) this.fail(step, 'acked-write-lost', `write ${label} acked at ${index} but the leader's commit is ${leaderCommit}`);
      const applied = this.applied.get(index);
      if (applied === undefined || !applied.includes(label)) this.fail(step, 'acked-write-lost', `write ${label} acked at ${index}, log holds ${applied ?? 'nothing'}`);
    }
  }

  record(step: number, kind: Violation['kind'], detail: string): void {
    this.fail(step, kind, detail);
  }
}
