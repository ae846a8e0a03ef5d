import { assert } from './errors.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * A follower answered that its log ends below what it had acknowledged: its
 * durable log went back (restored from an older copy, or damaged). Probing
 * never goes below `match + 1`, so without an operator's reset the leader
 * would retry the same index for ever.
 */
export interface ProgressRegression {
  /** What the follower had acknowledged (the leader's `match` when it was detected). */
  readonly match: number;
  /** The follower's latest hint of where its log ends (below `match`). */
  readonly followerLastIndex: number;
}

/**
 * The leader's view of one follower (etcd's tracker.Progress).
 *
 * - probe: the leader does not know where the logs agree; it sends one append
 *   at a time and waits for the answer (or the next heartbeat).
 * - replicate: the logs agree up to `match`; appends are pipelined, bounded by
 *   the inflight window.
 * - snapshot: the follower needs entries that were compacted; the leader sent
 *   a snapshot and sends nothing else until it is acknowledged or given up.
 *
 * Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Ticks spent in snapshot state; past the limit the leader probes again. */
  snapshotElapsedTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /**
   * Lease mode: the latest leader tick (RaftCore.leaderTicks) at which a
   * heartbeat this follower acknowledged was sent; 0 for none. A send time,
   * not a receive time: a late answer to an old heartbeat proves nothing newer.
   */
  heartbeatAckTick = 0;
  /** In probe state: an append is out, wait for its answer or a heartbeat. */
  probeSent = false;
  /** Set when the follower's log went back below `match`; cleared by `reset` (or an answer at or past it). */
  regression: ProgressRegression | null = null;
  readonly inflights: Inflights;

  constructor(next: number, inflightMessagesMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  becomeProbe(): void {
    // After a snapshot, the follower holds at least the snapshot's entries.
    const floor = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState('probe');
    this.next = floor;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * Records that the follower's log ends at `followerLastIndex`, below
   * `match`, and waits in probe state: one probe per heartbeat answer, which
   * clears the record if the rejection was only a stale answer.
   */
  markRegressed(followerLastIndex: number): void {
    assert(followerLastIndex < this.match, `a regression to ${followerLastIndex} is not below match ${this.match}`);
    this.regression = { match: this.regression?.match ?? this.match, followerLastIndex };
    if (this.state !== 'probe') this.becomeProbe();
    this.next = this.match + 1;
    this.probeSent = true;
  }

  /**
   * Forgets what the follower acknowledged and probes it again from
   * `probeFrom` (its real last index): the operator's repair of a regressed
   * follower. Catching up proceeds as for any follower, by log or snapshot.
   */
  reset(probeFrom: number): void {
    assert(probeFrom >= 0, `probe from ${probeFrom}`);
    this.resetState('probe');
    this.match = 0;
    this.next = probeFrom + 1;
    this.regression = null;
  }

  /** Records an acknowledgement up to `index`; false when it was stale. */
  maybeUpdate(index: number): boolean {
    // An answer at or past the recorded match shows the log did not go back after all (a stale rejection).
    if (this.regression !== null && index >= this.regression.match) this.regression = null;
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of the entries after `rejected`; `matchHint` is
   * the highest index where the logs may agree. False when the rejection is
   * stale (an answer to an older message).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Accounts for an append just sent with `entryCount` entries ending at `lastIndex`. */
  sentEntries(entryCount: number, lastIndex: number, messageBytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, messageBytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotElapsedTicks = 0;
    this.state = state;
    this.inflights.reset();
  }
}
