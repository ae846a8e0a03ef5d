/**
 * Testudo's one seeded random generator. The Raft core takes it through its
 * config (src/raft/core/config.ts) so that a simulator replays a run from its seed;
 * the chaos tools (fault proxy, scenario schedules, worker chaos hooks) draw
 * from the same algorithm, so a seed means the same stream everywhere.
 *
 * Changing the algorithm changes every recorded seed's replay (test/sim,
 * test/raft scenarios, chaos scenarios): test/common/rand.test.ts pins it.
 */

/** What the Raft core needs from a generator. */
export interface Rng {
  /** A uniformly distributed integer in [0, bound). */
  intBelow(bound: number): number;
}

/** A source of uniform floats in [0, 1), as the chaos tools take it. */
export type UniformRandom = () => number;

/**
 * SplitMix32-style generator (Mulberry32): tiny, fast and good enough for
 * election jitter, simulation choices and fault draws. Not for cryptography.
 */
export class SeededRng implements Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  intBelow(bound: number): number {
    if (bound <= 1) return 0;
    return Math.floor(this.next() * bound);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A child generator whose stream does not overlap this one's in practice. */
  fork(): SeededRng {
    return new SeededRng(this.nextUint32() ^ 0x9e3779b9);
  }
}

/** The floats of `new SeededRng(seed).next()`, as a function. */
export function createPrng(seed: number): UniformRandom {
  const rng = new SeededRng(seed);
  return () => rng.next();
}
