import type { SeededRng } from '../../src/raft/index.js';
import type { Message, NodeId } from '../../src/raft/index.js';

export interface NetworkConditions {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  /** Delivery delay is uniform in [1, delayMaxSteps] steps, which also reorders. */
  delayMaxSteps: number;
}

export const RELIABLE: NetworkConditions = { dropRate: 0, duplicateRate: 0, delayMaxSteps: 1 };

interface InFlight {
  readonly deliverAt: number;
  readonly seq: number;
  readonly message: Message;
}

/** Most messages in flight; beyond it new ones are dropped (a bounded queue). */
export const inflightMessagesMax = 100_000;

/**
 * A lossy, reordering, duplicating network with partitions, all decided by
 * the simulation's seeded generator.
 */
export class SimNetwork {
  conditions: NetworkConditions = { ...RELIABLE };
  private queue: InFlight[] = [];
  private seq = 0;
  /** Pairs "a|b" that cannot talk (both directions). */
  private readonly cut = new Set<string>();
  dropped = 0;
  delivered = 0;

  constructor(private readonly rng: SeededRng) {}

  send(m: Message, now: number): void {
    if (this.queue.length >= inflightMessagesMax || !this.linked(m.from, m.to) || this.rng.chance(this.conditions.dropRate)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.conditions.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const deliverAt = now + 1 + this.rng.intBelow(this.conditions.delayMaxSteps);
      this.queue.push({ deliverAt, seq: this.seq++, message: m });
    }
  }

  /** Messages due by `now`, in delivery order; those crossing a cut are lost. */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const later: InFlight[] = [];
    for (const item of this.queue) (item.deliverAt <= now ? ready : later).push(item);
    this.queue = later;
    ready.sort((a, b) => a.deliverAt - b.deliverAt || a.seq - b.seq);
    const out: Message[] = [];
    for (const item of ready) {
      if (this.linked(item.message.from, item.message.to)) out.push(item.message);
      else this.dropped++;
    }
    this.delivered += out.length;
    return out;
  }

  /**
   * `id` crashed: messages to it are lost, and so is each message it sent
   * that is still in flight with probability `outboundLossRate` (what sat in
   * its socket buffers dies with the process).
   */
  forget(id: NodeId, outboundLossRate: number): void {
    this.queue = this.queue.filter((i) => i.message.to !== id && !(i.message.from === id && this.rng.chance(outboundLossRate)));
  }

  linked(a: NodeId, b: NodeId): boolean {
    return !this.cut.has(pairKey(a, b));
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(pairKey(a, b));
  }

  healAll(): void {
    this.cut.clear();
  }

  /** Splits `ids` into the given groups; links across groups are cut. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.cut.clear();
    for (let g = 0; g < groups.length; g++) {
      for (let h = g + 1; h < groups.length; h++) {
        for (const a of groups[g]!) for (const b of groups[h]!) this.cutLink(a, b);
      }
    }
  }

  /** Every node keeps links only to its ring neighbours: each sees a different majority. */
  majoritiesRing(ids: readonly NodeId[]): void {
    this.cut.clear();
    const n = ids.length;
    // Reach d neighbours each way, with 2d + 1 a bare majority; three nodes
    // become a line (the middle one sees everyone, each end a different pair).
    const reach = Math.ceil(Math.floor(n / 2) / 2);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const distance = Math.min(j - i, n - (j - i));
        if (distance > reach || (n === 3 && i === 0 && j === 2)) this.cutLink(ids[i]!, ids[j]!);
      }
    }
  }

  describeCuts(): string {
    return [...this.cut].sort().join(',');
  }

  inflight(): number {
    return this.queue.length;
  }
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
