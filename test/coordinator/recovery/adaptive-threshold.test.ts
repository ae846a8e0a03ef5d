import { describe, expect, it } from 'vitest';

import {
  adaptiveThreshold,
  defaultAdaptiveThresholdConfig,
  median,
  validateAdaptiveThresholdConfig,
} from '../../../src/coordinator/recovery/index.js';
import type { PeerStat } from '../../../src/coordinator/recovery/index.js';

const config = defaultAdaptiveThresholdConfig;

function stat(workerId: string, failureRate: number, calls = 20, capabilityKey = 'linux-x64'): PeerStat {
  return { workerId, capabilityKey, failureRate, calls };
}

/** The guard as docs/recovery.md writes it, computed independently of the implementation. */
function guard(baseline: number, ownCalls: number, peerCalls: number): number {
  const v = (baseline * peerCalls + 1) / (peerCalls + 2);
  return baseline + 3 * Math.sqrt(v * (1 - v) * (1 / ownCalls + 1 / peerCalls)) + 0.05;
}

describe('median', () => {
  it('takes the middle, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });
});

describe('adaptiveThreshold', () => {
  it('cuts one outlier off quickly among healthy peers', () => {
    const stats = [stat('bad', 1, 5), stat('w1', 0), stat('w2', 0.05), stat('w3', 0), stat('w4', 0.05), stat('w5', 0.1)];
    const decision = adaptiveThreshold('bad', stats, config);
    expect(decision.adaptive).toBe(true);
    expect(decision.peers).toBe(5);
    expect(decision.baseline).toBe(0.05);
    expect(decision.mad).toBeCloseTo(1.4826 * 0.05);
    // With 5 calls of its own the sampling-noise guard binds: 0.05 + 3×0.14 + 0.05 = 0.53.
    expect(decision.threshold).toBeCloseTo(guard(0.05, 5, 20));
    expect(decision.reason).toBe(
      "adaptive: fleet guard 0.53 = peers' median 0.05 + 3×noise 0.14 (5 vs 20 calls) + margin 0.05 is above the peer bound (peers' median 0.05 + 3×MAD 0.07; 5 peers)",
    );
    // Five crashes of five (rate 1), even three of five, trip at the first chance (minimumCalls).
    expect(0.6).toBeGreaterThanOrEqual(decision.threshold);
    // With a full window the guard tightens to 0.37 (the peer bound is 0.05 + 3 × 0.074 = 0.27).
    const full = adaptiveThreshold('bad', [stat('bad', 0.3, 20), ...stats.slice(1)], config);
    expect(full.threshold).toBeCloseTo(guard(0.05, 20, 20));
    expect(full.threshold).toBeCloseTo(0.373, 3);
    const wide = adaptiveThreshold('bad', [stat('bad', 0.3, 20), ...stats.slice(1)], { ...config, guardMargin: 0, k: 2 });
    expect(wide.reason).toBe("adaptive: peers' median 0.05 + 2×MAD 0.07, raised to the minimum 0.25; 5 peers");
    // And a healthy worker of that fleet stays well below its own threshold.
    const healthy = adaptiveThreshold('w5', stats, config);
    expect(0.1).toBeLessThan(healthy.threshold);
  });

  it('raises the baseline with a fleet-wide failure so nobody trips (10 workers at 60 %)', () => {
    // Binomial spread of 60 % over 20 calls: rates between 0.5 and 0.7.
    const rates = [0.6, 0.55, 0.65, 0.6, 0.5, 0.7, 0.6, 0.65, 0.55, 0.6];
    const stats = rates.map((r, i) => stat(`w${i}`, r));
    for (const s of stats) {
      const decision = adaptiveThreshold(s.workerId, stats, config);
      expect(decision.adaptive).toBe(true);
      expect(decision.baseline).toBeGreaterThanOrEqual(0.6);
      expect(s.failureRate).toBeLessThan(decision.threshold);
      // Over 20 calls against peers of 20 calls nobody can trip on failure rate at all.
      expect(decision.threshold).toBeCloseTo(guard(0.6, 20, 20));
      expect(decision.threshold).toBeGreaterThan(1);
      expect(decision.reason).toMatch(/^adaptive: fleet guard 1\.12 = peers' median 0\.60 \+ 3×noise 0\.16 \(20 vs 20 calls\) \+ margin 0\.05 is above the peer bound/);
    }
  });

  it('does not trip a fleet that fails alike even when the rates are identical (MAD 0)', () => {
    const stats = Array.from({ length: 10 }, (_, i) => stat(`w${i}`, 0.6));
    const decision = adaptiveThreshold('w0', stats, config);
    expect(decision.mad).toBe(0);
    expect(decision.threshold).toBeGreaterThan(0.6);
    const allFailing = Array.from({ length: 10 }, (_, i) => stat(`w${i}`, 1));
    expect(adaptiveThreshold('w0', allFailing, config).threshold).toBeGreaterThan(1);
  });

  it('protects a small sample: five failures of five at a 60 % fleet are not abnormal', () => {
    const stats = [stat('new', 1, 5), ...Array.from({ length: 9 }, (_, i) => stat(`w${i}`, 0.6))];
    const decision = adaptiveThreshold('new', stats, config);
    expect(decision.threshold).toBeGreaterThan(1);
  });

  it('tells a worker that always fails from a fleet failing 60 % of the time only with a larger window', () => {
    // A known limit of k = 3: 20 of 20 against 12 of 20 is within the noise of two 20-call samples.
    const small = [stat('bad', 1, 20), ...Array.from({ length: 9 }, (_, i) => stat(`w${i}`, 0.6, 20))];
    expect(adaptiveThreshold('bad', small, config).threshold).toBeGreaterThan(1);
    // With 50-call windows it is not.
    const large = [stat('bad', 1, 50), ...Array.from({ length: 9 }, (_, i) => stat(`w${i}`, 0.6, 50))];
    const decision = adaptiveThreshold('bad', large, config);
    expect(decision.threshold).toBeCloseTo(guard(0.6, 50, 50));
    expect(decision.threshold).toBeLessThan(1);
  });

  it('only compares peers with the same capabilities', () => {
    const stats = [stat('me', 0.5), stat('a', 0), stat('b', 0), stat('c', 0), stat('g1', 0.9, 20, 'gpu'), stat('g2', 0.9, 20, 'gpu'), stat('g3', 0.9, 20, 'gpu')];
    expect(adaptiveThreshold('me', stats, config)).toMatchObject({ adaptive: true, baseline: 0, peers: 3, threshold: config.minThreshold });
    expect(adaptiveThreshold('g1', stats, config).baseline).toBe(0.9);
  });

  it('falls back to the static threshold with too few eligible peers', () => {
    const stats = [stat('me', 0.5), stat('a', 0), stat('b', 0), stat('c', 0.2, 4)];
    const decision = adaptiveThreshold('me', stats, config);
    expect(decision).toMatchObject({ adaptive: false, threshold: config.fallbackThreshold, peers: 0, mad: 0 });
    expect(decision.baseline).toBeCloseTo(0.8 / 44);
    expect(decision.reason).toBe('static fallback 0.50 (2 of 3 peers with ≥ 5 calls, need 3)');
    const alone = adaptiveThreshold('me', [stat('me', 0.5)], config);
    expect(alone).toMatchObject({ adaptive: false, threshold: 0.5, baseline: null });
    expect(adaptiveThreshold('ghost', [stat('me', 0.5)], config).reason).toContain('worker unknown');
  });

  it('keeps the fleet guard in the fallback: early peers that all fail do not trip the first worker to reach minimumCalls', () => {
    const stats = [stat('w0', 1, 5), stat('w1', 1, 4), stat('w2', 1, 4), stat('w3', 1, 4)];
    const decision = adaptiveThreshold('w0', stats, config);
    expect(decision.adaptive).toBe(false);
    expect(decision.threshold).toBeGreaterThan(1);
    expect(decision.threshold).toBeCloseTo(guard(1, 5, 12));
    expect(decision.reason).toBe("fleet guard 1.46 = peers' pooled rate 1.00 + 3×noise 0.14 (5 vs 12 calls) + margin 0.05 is above the static fallback 0.50 (0 of 3 peers with ≥ 5 calls, need 3)");
  });

  it('lets bad luck at a 2 % background rate pass in a healthy fleet: 2 of 8 do not trip, 3 of 8 do', () => {
    const peers = [stat('a', 0), stat('b', 0), stat('c', 0), stat('d', 0)];
    const decision = adaptiveThreshold('me', [stat('me', 2 / 8, 8), ...peers], config);
    expect(decision.threshold).toBeCloseTo(guard(0, 8, 20));
    expect(decision.threshold).toBeCloseTo(0.311, 3);
    expect(2 / 8).toBeLessThan(decision.threshold);
    expect(3 / 8).toBeGreaterThanOrEqual(decision.threshold);
  });

  it('keeps a fleet where every attempt fails from tripping anyone', () => {
    const stats = Array.from({ length: 5 }, (_, i) => stat(`w${i}`, 1));
    expect(adaptiveThreshold('w0', stats, config).threshold).toBeCloseTo(guard(1, 20, 20));
    expect(adaptiveThreshold('w0', stats, config).threshold).toBeCloseTo(1.248, 3);
  });

  it('clamps the peer bound to [minThreshold, maxThreshold]', () => {
    const healthy = [stat('me', 0), stat('a', 0), stat('b', 0), stat('c', 0)];
    const low = adaptiveThreshold('me', healthy, config);
    expect(low.threshold).toBe(0.25);
    expect(low.reason).toBe("adaptive: peers' median 0.00 + 3×MAD 0.00, raised to the minimum 0.25; 3 peers");
    // Widely spread peers would lift the bound above 1; it is capped at 0.9 (the guard is lower here).
    const spread = [stat('me', 0), stat('a', 0), stat('b', 0.3), stat('c', 0.6), stat('d', 0.3), stat('e', 0)];
    const high = adaptiveThreshold('me', spread, { ...config, guardMargin: 0 });
    expect(high.baseline).toBe(0.3);
    expect(high.threshold).toBe(0.9);
    expect(high.reason).toContain('capped at 0.90');
  });

  it('is deterministic and independent of the order of the stats', () => {
    const stats = [stat('me', 0.3), stat('a', 0.1), stat('b', 0.2), stat('c', 0), stat('d', 0.05)];
    const one = adaptiveThreshold('me', stats, config);
    expect(adaptiveThreshold('me', [...stats].reverse(), config)).toEqual(one);
  });

  it('validates its config', () => {
    expect(() => validateAdaptiveThresholdConfig(config)).not.toThrow();
    expect(() => validateAdaptiveThresholdConfig({ ...config, minThreshold: 0.95 })).toThrow(RangeError);
    expect(() => validateAdaptiveThresholdConfig({ ...config, maxThreshold: 1.2 })).toThrow(RangeError);
    expect(() => validateAdaptiveThresholdConfig({ ...config, minimumPeers: 0 })).toThrow(RangeError);
    expect(() => validateAdaptiveThresholdConfig({ ...config, fallbackThreshold: 0 })).toThrow(RangeError);
    expect(() => adaptiveThreshold('me', [stat('me', 1.5)], config)).toThrow(/failure rate 1.5/);
  });
});
