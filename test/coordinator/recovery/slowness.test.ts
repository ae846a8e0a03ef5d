import { describe, expect, it } from 'vitest';

import { newBreaker, recordOutcome, defaultBreakerConfig, type Breaker } from '../../../src/coordinator/recovery/index.js';
import { paceHorizonMs, slowHedgeDue, slownessOf, slowReason, tailPrefersFaster, workerPace } from '../../../src/coordinator/recovery/slowness.js';

/** A closed breaker that recorded passes of `durationsMs` against an expected 1,000 ms, one a second from `fromMs`. */
function breakerWith(durationsMs: readonly number[], fromMs = 0): Breaker {
  let b = newBreaker(0);
  durationsMs.forEach((durationMs, i) => {
    b = recordOutcome(b, { atMs: fromMs + i * 1000, ok: true, durationMs, expectedMs: 1000 }, defaultBreakerConfig).breaker;
  });
  return b;
}

describe('slowness: paces and the rules that use them', () => {
  it('records a pace only for attempts that ran their tests against a known expected duration', () => {
    let b = newBreaker(0);
    b = recordOutcome(b, { atMs: 1, ok: true, durationMs: 2500, expectedMs: 1000 }, defaultBreakerConfig).breaker;
    b = recordOutcome(b, { atMs: 2, ok: true, durationMs: 2500 }, defaultBreakerConfig).breaker;
    b = recordOutcome(b, { atMs: 3, ok: true, durationMs: 2500, expectedMs: 0 }, defaultBreakerConfig).breaker;
    b = recordOutcome(b, { atMs: 4, ok: false, durationMs: 5, failureClass: 'spawn-error' }, defaultBreakerConfig).breaker;
    expect(b.calls.map((c) => c.pace)).toEqual([2.5, undefined, undefined, undefined]);
  });

  it("a worker's pace is the median of its last 8 paces, once it has 4, within the horizon", () => {
    expect(workerPace(breakerWith([3000, 3000, 3000]), 3000)).toBeNull();
    expect(workerPace(breakerWith([3000, 1000, 3000, 3000]), 4000)).toEqual({ pace: 3, calls: 4 });
    // Only the last 8 count: eight fast calls after a slow start.
    expect(workerPace(breakerWith([9000, 9000, 9000, 9000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]), 12_000)).toEqual({ pace: 1, calls: 8 });
    // Past the horizon the calls say nothing about now.
    expect(workerPace(breakerWith([3000, 3000, 3000, 3000]), 3000 + paceHorizonMs + 1)).toBeNull();
  });

  it('is slow only at slowPaceFactor times its peers, with a peer to compare, and not when off', () => {
    const own = { pace: 3, calls: 6 };
    expect(slownessOf(own, [1, 1.2], 2)).toEqual({ pace: 3, calls: 6, peersPace: 1.1, relative: 3 / 1.1 });
    expect(slownessOf(own, [1.6], 2)).toBeNull();
    expect(slownessOf({ pace: 2, calls: 6 }, [1], 2)).not.toBeNull(); // exactly at the factor
    expect(slownessOf(own, [], 2)).toBeNull();
    expect(slownessOf(own, [1], 0)).toBeNull();
    expect(slownessOf(null, [1], 2)).toBeNull();
    expect(slowReason(slownessOf(own, [1], 2)!, 2)).toBe("slow: its last 6 attempts took 3.00× their expected time, its peers' median 1.00× (3.0× ≥ slowPaceFactor 2)");
  });

  it('leaves the tail to faster slots while they free in time, never a long queue', () => {
    // 4 faster slots, a worker 3x slower: up to 8 queued tasks end sooner on the faster slots.
    expect(tailPrefersFaster(8, 4, 3)).toBe(true);
    expect(tailPrefersFaster(9, 4, 3)).toBe(false);
    expect(tailPrefersFaster(1, 0, 3)).toBe(false);
    expect(() => tailPrefersFaster(1, 4, 0.5)).toThrow(/relative pace/);
  });

  it('hedges an attempt on a slow worker while a peer would still finish it first', () => {
    const s = slownessOf({ pace: 3, calls: 6 }, [1], 2)!;
    // Expected 1,000 ms: 3,000 ms there against 1,000 ms on a peer, with a 1,000 ms margin.
    expect(slowHedgeDue(0, 1000, s, 1000)).toBe(true);
    expect(slowHedgeDue(1000, 1000, s, 1000)).toBe(true);
    expect(slowHedgeDue(1001, 1000, s, 1000)).toBe(false);
  });
});
