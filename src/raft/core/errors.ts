import { assert } from '../../common/assert.js';
import type { NodeId } from './types.js';

/** Base of every error the Raft library raises on purpose. */
export class RaftError extends Error {
  override readonly name: string = 'RaftError';
  /** True when the same request may succeed if retried (here or elsewhere). */
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.retryable = retryable;
  }
}

/** A proposal reached a node that is not the leader. */
export class NotLeaderError extends RaftError {
  override readonly name = 'NotLeaderError';
  /** The leader this node believes in, or '' when it knows none. */
  readonly leaderId: NodeId;

  constructor(nodeId: NodeId, leaderId: NodeId) {
    super(
      leaderId === '' ? `node ${nodeId} is not the leader and knows no leader` : `node ${nodeId} is not the leader; the leader is ${leaderId}`,
      true,
    );
    this.leaderId = leaderId;
  }
}

/** The leader refused a proposal because its uncommitted log is at the limit. */
export class ProposalLimitError extends RaftError {
  override readonly name = 'ProposalLimitError';
  readonly uncommittedBytes: number;
  readonly uncommittedBytesMax: number;

  constructor(uncommittedBytes: number, uncommittedBytesMax: number) {
    super(`uncommitted log holds ${uncommittedBytes} bytes, limit ${uncommittedBytesMax}; retry later`, true);
    this.uncommittedBytes = uncommittedBytes;
    this.uncommittedBytesMax = uncommittedBytesMax;
  }
}

/** The leader is handing leadership to another node and takes no proposals. */
export class LeadershipTransferInProgressError extends RaftError {
  override readonly name = 'LeadershipTransferInProgressError';
  readonly transferee: NodeId;

  constructor(transferee: NodeId) {
    super(`leadership is being transferred to ${transferee}; retry on the new leader`, true);
    this.transferee = transferee;
  }
}

/** A membership change was refused; `reason` says why. */
export class ConfChangeError extends RaftError {
  override readonly name = 'ConfChangeError';
  readonly reason: 'pending' | 'invalid' | 'learner-behind' | 'last-voter';

  constructor(reason: ConfChangeError['reason'], message: string) {
    super(message, reason === 'pending' || reason === 'learner-behind');
    this.reason = reason;
  }
}

/** A requested index was compacted away into a snapshot. */
export class CompactedError extends RaftError {
  override readonly name = 'CompactedError';
  readonly index: number;

  constructor(index: number, firstIndex: number) {
    super(`index ${index} is compacted; first index is ${firstIndex}`, false);
    this.index = index;
  }
}

/** A requested index is beyond the last entry in storage. */
export class UnavailableError extends RaftError {
  override readonly name = 'UnavailableError';
  readonly index: number;

  constructor(index: number, lastIndex: number) {
    super(`index ${index} is unavailable; last index is ${lastIndex}`, false);
    this.index = index;
  }
}

/** Stored data failed its checksum or could not be decoded. The node must not start. */
export class CorruptionError extends RaftError {
  override readonly name = 'CorruptionError';
  /** The log index concerned, or -1 when the damage is not in an entry. */
  readonly index: number;

  constructor(index: number, message: string, options?: { cause?: unknown }) {
    super(message, false, options);
    this.index = index;
  }
}

/**
 * The data directory holds less than this node last recorded as durable in
 * its independent record (`DURABLE`): its term, its vote or acknowledged log
 * entries went back (a truncated or deleted LevelDB file, a directory
 * restored from an older copy), or the record itself is missing. Starting
 * would let the node vote twice in a term or lose committed entries, so it
 * must not start. `problems` has one sentence per thing that went back.
 */
export class DurableStateRolledBackError extends RaftError {
  override readonly name = 'DurableStateRolledBackError';
  readonly dir: string;
  readonly problems: readonly string[];

  constructor(dir: string, problems: readonly string[]) {
    super(`data directory ${dir} holds less than this node recorded as durable: ${problems.join('; ')}`, false);
    assert(problems.length > 0, 'a rollback names what went back');
    this.dir = dir;
    this.problems = problems;
  }
}

// The one assert (src/common/assert.ts), re-exported for the Raft library's users.
export { AssertionFailure, assert } from '../../common/assert.js';
