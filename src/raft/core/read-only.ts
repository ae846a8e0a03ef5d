import { majority } from './quorum.js';
import { message, MessageType, NO_NODE, type Message, type NodeId, type ReadFailure, type ReadState } from './types.js';

/** A linearizable read waiting for a quorum to confirm the leader's term. */
export interface ReadRequest {
  /** The leader's commit index when the read arrived. */
  readonly index: number;
  /** Who asked: the leader itself or a follower that forwarded it. */
  readonly from: NodeId;
  readonly context: string;
  readonly acks: Set<NodeId>;
}

/**
 * Pending ReadIndex requests in arrival order (etcd's readOnly). A heartbeat
 * acknowledged for a request also confirms every request queued before it,
 * since the leader was still leader when each of those arrived.
 */
class ReadOnlyQueue {
  private readonly queue: ReadRequest[] = [];
  private readonly byContext = new Map<string, ReadRequest>();

  constructor(
    /** Most reads pending at once; beyond it reads fail as overloaded. */
    readonly readRequestsPendingMax: number,
  ) {}

  isFull(): boolean {
    return this.queue.length >= this.readRequestsPendingMax;
  }

  has(context: string): boolean {
    return this.byContext.has(context);
  }

  add(request: Omit<ReadRequest, 'acks'>): void {
    const entry: ReadRequest = { ...request, acks: new Set() };
    this.queue.push(entry);
    this.byContext.set(request.context, entry);
  }

  /** Records that `from` acknowledged the heartbeat for `context`; returns its acks. */
  recvAck(from: NodeId, context: string): ReadonlySet<NodeId> | null {
    const request = this.byContext.get(context);
    if (request === undefined) return null;
    request.acks.add(from);
    return request.acks;
  }

  /** Removes and returns every request up to and including `context`. */
  release(context: string): ReadRequest[] {
    const at = this.queue.findIndex((r) => r.context === context);
    if (at < 0) return [];
    const released = this.queue.splice(0, at + 1);
    for (const r of released) this.byContext.delete(r.context);
    return released;
  }

  /** Removes and returns everything (the leader lost its role). */
  drain(): ReadRequest[] {
    const all = this.queue.splice(0, this.queue.length);
    this.byContext.clear();
    return all;
  }

  lastContext(): string | null {
    return this.queue[this.queue.length - 1]?.context ?? null;
  }

  size(): number {
    return this.queue.length;
  }
}

/** What the ledger needs from the core it serves. */
export interface ReadIndexHost {
  readonly id: NodeId;
  /** Queues a message to a peer (in the core's outgoing order). */
  send(m: Message): void;
  /** Starts a heartbeat round whose acknowledgements confirm `context`. */
  broadcastHeartbeat(context: string): void;
}

/** The leader's view a read decision needs. */
export interface ReadIndexView {
  readonly committed: number;
  /** An entry of the leader's current term is committed (§6.4). */
  readonly committedInTerm: boolean;
  readonly voters: readonly NodeId[];
  /** Lease mode: the leader holds a lease, so no other leader can exist and no round is needed. */
  readonly leaseHeld: boolean;
}

/**
 * Every linearizable read a node is handling, from request to answer: the
 * leader's quorum-confirmation queue, reads held until the leader commits in
 * its term, follower-side answers, and the ReadStates and ReadFailures the
 * next Ready hands out. Each read ends exactly once, answered or failed.
 */
export class ReadIndexLedger {
  private readonly confirming: ReadOnlyQueue;
  /** Reads that arrived before the leader committed an entry of its own term. */
  private waiting: { from: NodeId; context: string }[] = [];
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];

  constructor(
    private readonly host: ReadIndexHost,
    /** Most reads pending on a leader, in each of its two queues. */
    private readonly readRequestsPendingMax: number,
  ) {
    this.confirming = new ReadOnlyQueue(readRequestsPendingMax);
  }

  /** ReadIndex on the leader: record commit, confirm leadership with a heartbeat round (or a lease). */
  request(from: NodeId, context: string, view: ReadIndexView): void {
    if (!view.committedInTerm) {
      // Until an entry of this term commits, the commit index may be stale.
      if (this.waiting.length >= this.readRequestsPendingMax) this.reject(from, context, this.host.id);
      else this.waiting.push({ from, context });
      return;
    }
    if (view.voters.length === 1 || view.leaseHeld) {
      this.answer(from, context, view.committed);
      return;
    }
    if (this.confirming.isFull() || this.confirming.has(context)) {
      this.reject(from, context, this.host.id);
      return;
    }
    this.confirming.add({ index: view.committed, from, context });
    this.confirming.recvAck(this.host.id, context);
    this.host.broadcastHeartbeat(context);
  }

  /** The leader committed in its term: serve the reads held until then. */
  releaseWaiting(view: ReadIndexView): void {
    if (this.waiting.length === 0 || !view.committedInTerm) return;
    const reads = this.waiting;
    this.waiting = [];
    for (const read of reads) this.request(read.from, read.context, view);
  }

  /** A voter acknowledged the heartbeat for `context`; a quorum releases it and all before it. */
  ack(from: NodeId, context: string, voters: readonly NodeId[]): void {
    const acks = this.confirming.recvAck(from, context);
    if (acks === null) return;
    let voterAcks = 0;
    for (const id of acks) if (voters.includes(id)) voterAcks++;
    if (voterAcks < majority(voters.length)) return;
    for (const request of this.confirming.release(context)) this.answer(request.from, request.context, request.index);
  }

  /** A follower's answer from the leader. */
  onResponse(m: Message, leader: NodeId): void {
    if (m.reject) this.readFailures.push({ context: m.context, reason: 'not-leader', leader });
    else this.readStates.push({ index: m.index, context: m.context });
  }

  /** This node cannot serve the read: tell the asker (ourselves or a follower). */
  reject(to: NodeId, context: string, leader: NodeId): void {
    if (to === this.host.id) this.readFailures.push({ context, reason: 'not-leader', leader });
    else this.host.send(message({ type: MessageType.ReadIndexResp, from: this.host.id, to, term: 0, reject: true, context }));
  }

  /** A read that cannot even be sent (no leader known). */
  failLocal(context: string, reason: ReadFailure['reason']): void {
    this.readFailures.push({ context, reason, leader: NO_NODE });
  }

  /** Every read still waiting fails; the callers retry on the new leader. */
  failAll(reason: ReadFailure['reason']): void {
    const pending = [...this.confirming.drain().map((r) => ({ from: r.from, context: r.context })), ...this.waiting];
    this.waiting = [];
    for (const read of pending) {
      if (read.from === this.host.id) this.failLocal(read.context, reason);
      else this.host.send(message({ type: MessageType.ReadIndexResp, from: this.host.id, to: read.from, term: 0, reject: true, context: read.context }));
    }
  }

  /** The context the next heartbeat should carry, so a lost round is retried. */
  lastContext(): string {
    return this.confirming.lastContext() ?? '';
  }

  hasOutput(): boolean {
    return this.readStates.length > 0 || this.readFailures.length > 0;
  }

  /** Hands out (and forgets) the answers for the next Ready. */
  takeOutput(): { readStates: ReadState[]; readFailures: ReadFailure[] } {
    const out = { readStates: this.readStates, readFailures: this.readFailures };
    this.readStates = [];
    this.readFailures = [];
    return out;
  }

  private answer(to: NodeId, context: string, index: number): void {
    if (to === this.host.id) this.readStates.push({ index, context });
    else this.host.send(message({ type: MessageType.ReadIndexResp, from: this.host.id, to, term: 0, index, context }));
  }
}
