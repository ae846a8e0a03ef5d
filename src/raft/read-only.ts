import type { NodeId } from './types.js';

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
export class ReadOnlyQueue {
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
