import { Progress } from './progress.js';
import { committedIndex, quorumActive, voteResult, type VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/**
 * The membership a node acts on, the leader's per-member progress, and the
 * votes of the current election. Ids are kept sorted so that every replica
 * iterates members in the same order.
 */
export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    private readonly inflightMessagesMax: number,
    private readonly inflightBytesMax: number,
  ) {}

  /** Switches to `conf`, keeping progress of members that stay. */
  setConf(conf: ConfState, nextIndex: number): void {
    this.voters = [...conf.voters].sort();
    this.learners = [...conf.learners].sort();
    const members = new Set([...this.voters, ...this.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      if (!this.progress.has(id)) this.progress.set(id, this.newProgress(nextIndex));
    }
  }

  conf(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  /** Fresh progress for every member (a new term or a restored snapshot). */
  resetProgress(nextIndex: number): void {
    for (const id of [...this.progress.keys()]) this.progress.set(id, this.newProgress(nextIndex));
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learners.includes(id);
  }

  /** Every member (voters then learners, each sorted). */
  members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /**
   * Lease mode: the latest leader tick such that a quorum acknowledged a
   * heartbeat sent at or after it; the leader counts as `selfTick` (now).
   */
  leaseStartTick(self: NodeId, selfTick: number): number {
    return committedIndex(this.voters, (id) => (id === self ? selfTick : (this.progress.get(id)?.heartbeatAckTick ?? 0)));
  }

  quorumActive(self: NodeId): boolean {
    return quorumActive(this.voters, (id) => id === self || (this.progress.get(id)?.recentActive ?? false));
  }

  resetRecentActive(self: NodeId): void {
    for (const [id, pr] of this.progress) pr.recentActive = id === self;
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }

  private newProgress(nextIndex: number): Progress {
    return new Progress(nextIndex, this.inflightMessagesMax, this.inflightBytesMax);
  }
}
