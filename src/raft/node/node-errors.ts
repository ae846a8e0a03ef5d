import { RaftError } from '../core/errors.js';
import type { NodeId } from '../core/types.js';

/**
 * A proposal's fate is unknown or negative: the node lost leadership while
 * it was pending, or another leader's entry took its index. Retryable; a
 * write that must apply once carries an idempotency key, so the retry is safe
 * even if the first attempt did commit.
 */
export class ProposalDroppedError extends RaftError {
  override readonly name = 'ProposalDroppedError';
  readonly reason: 'leadership-lost' | 'superseded' | 'snapshot-installed';
  readonly index: number;

  constructor(reason: ProposalDroppedError['reason'], index: number) {
    super(`proposal at index ${index} was dropped (${reason}); its outcome is unknown, retry it`, true);
    this.reason = reason;
    this.index = index;
  }
}

/** A linearizable read could not be confirmed by a leader. */
export class ReadIndexError extends RaftError {
  override readonly name = 'ReadIndexError';
  readonly reason: 'not-leader' | 'no-leader' | 'lost-leadership' | 'timeout';
  readonly leaderId: NodeId;

  constructor(reason: ReadIndexError['reason'], leaderId: NodeId) {
    super(`linearizable read failed: ${reason}${leaderId === '' ? '' : ` (leader ${leaderId})`}`, true);
    this.reason = reason;
    this.leaderId = leaderId;
  }
}

/** The node is stopping or stopped; nothing more will be proposed or read on it. */
export class NodeStoppedError extends RaftError {
  override readonly name = 'NodeStoppedError';

  constructor(nodeId: NodeId) {
    super(`raft node ${nodeId} is stopped`, true);
  }
}

/** Too many proposals are waiting on this node; shed load and retry later. */
export class NodeOverloadedError extends RaftError {
  override readonly name = 'NodeOverloadedError';
  readonly pending: number;
  readonly pendingMax: number;

  constructor(pending: number, pendingMax: number) {
    super(`${pending} proposals are pending (limit ${pendingMax}); retry later`, true);
    this.pending = pending;
    this.pendingMax = pendingMax;
  }
}

/** A leadership transfer did not finish in time. */
export class TransferTimeoutError extends RaftError {
  override readonly name = 'TransferTimeoutError';
  readonly to: NodeId;

  constructor(to: NodeId, leaderId: NodeId, timeoutMs: number) {
    super(`leadership did not move to ${to} within ${timeoutMs} ms (leader is ${leaderId === '' ? 'unknown' : leaderId})`, true);
    this.to = to;
  }
}
