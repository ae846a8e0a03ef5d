import { assert } from '../../raft/index.js';

/**
 * The adaptive failure-rate threshold of a worker's breaker, derived from its
 * peers: the workers with the same capability signature. Pure: the caller
 * gathers each worker's window statistics (`windowStats` in breaker.ts).
 *
 *   group    = workers with the worker's capabilityKey, the worker excluded
 *   eligible = group members with calls ≥ minimumCalls
 *   if |eligible| ≥ minimumPeers:                    (adaptive)
 *     b  = median(eligible failure rates)            (baseline)
 *     σ  = 1.4826 · median(|rate − b|)               (scaled MAD)
 *     m  = median(eligible calls)                    (one typical peer's sample size)
 *     peerBound = clamp(b + k·σ, minThreshold, maxThreshold)
 *   else:                                            (fallback)
 *     b  = pooled failure rate of the group (Σ failures / Σ calls), if it has calls
 *     m  = Σ calls of the group
 *     peerBound = fallbackThreshold
 *   v     = (b·m + 1) / (m + 2)                      (b smoothed with a Beta(1,1) prior)
 *   noise = √(v(1−v)(1/n + 1/m))                     (n = the worker's own calls)
 *   guard = b + k·noise + guardMargin
 *   threshold = max(peerBound, guard)
 *
 * The guard is what keeps a fleet-wide problem from cutting off the fleet,
 * and small samples from tripping healthy workers: a worker is never tripped
 * for a failure rate that two samples of n and m calls cannot tell apart from
 * its peers' (the noise of a difference of two binomial rates), nor for
 * failing exactly as often as they do. It is not clamped by maxThreshold, so
 * it can exceed 1: then the worker cannot trip on failure rate at all.
 */

export interface AdaptiveThresholdConfig {
  /** Multiples of the spread above the baseline that count as abnormal. */
  readonly k: number;
  /** Scales the MAD to a standard-deviation estimate for normal data. */
  readonly madScale: number;
  /** Lower bound of the peer bound: a healthy fleet (baseline 0) still tolerates this rate. */
  readonly minThreshold: number;
  /** Upper bound of the peer bound: wide peer spread cannot lift it above this. */
  readonly maxThreshold: number;
  /** The peer bound when fewer than minimumPeers peers have enough calls (the static threshold). */
  readonly fallbackThreshold: number;
  /** Eligible peers needed for a median to mean anything. */
  readonly minimumPeers: number;
  /** Calls a peer needs in its window to count as eligible (the breaker's minimumCalls). */
  readonly minimumCalls: number;
  /** Added to the guard: a worker must fail at least this much more often than its peers. */
  readonly guardMargin: number;
}

export const defaultAdaptiveThresholdConfig: AdaptiveThresholdConfig = {
  k: 3,
  madScale: 1.4826,
  minThreshold: 0.25,
  maxThreshold: 0.9,
  fallbackThreshold: 0.5,
  minimumPeers: 3,
  minimumCalls: 5,
  guardMargin: 0.05,
};

/** One worker's statistics as the caller gathered them (the evaluated worker is among them). */
export interface PeerStat {
  readonly workerId: string;
  /** Workers with equal keys are peers (e.g. a digest of labels, cpus, memory, tools). */
  readonly capabilityKey: string;
  /** 0..1 over the worker's breaker window. */
  readonly failureRate: number;
  /** Calls in the worker's breaker window. */
  readonly calls: number;
}

export interface ThresholdDecision {
  /** The failure rate at or above which the worker's breaker trips (may exceed 1: cannot trip). */
  readonly threshold: number;
  /** The peers' median (adaptive) or pooled rate (fallback); null when the peers have no calls. */
  readonly baseline: number | null;
  /** The scaled MAD of the eligible peers' rates (0 in fallback). */
  readonly mad: number;
  /** Eligible peers the baseline came from (0 in fallback). */
  readonly peers: number;
  /** True when the baseline came from enough peers; false for the static fallback. */
  readonly adaptive: boolean;
  /** Which bound decided, with its numbers (goes into the breaker's transition reason). */
  readonly reason: string;
}

export function validateAdaptiveThresholdConfig(config: AdaptiveThresholdConfig): void {
  const { k, madScale, minThreshold, maxThreshold, fallbackThreshold, minimumPeers, minimumCalls, guardMargin } = config;
  if (!(k >= 0 && madScale > 0)) throw new RangeError(`adaptive threshold: k must be ≥ 0 and madScale > 0 (got ${k}, ${madScale})`);
  if (!(minThreshold >= 0 && minThreshold <= maxThreshold && maxThreshold <= 1)) {
    throw new RangeError(`adaptive threshold: need 0 ≤ minThreshold ≤ maxThreshold ≤ 1 (got ${minThreshold}, ${maxThreshold})`);
  }
  if (!(fallbackThreshold > 0 && fallbackThreshold <= 1)) throw new RangeError(`adaptive threshold: fallbackThreshold must be in (0, 1] (got ${fallbackThreshold})`);
  if (!(Number.isInteger(minimumPeers) && minimumPeers >= 1)) throw new RangeError(`adaptive threshold: minimumPeers must be an integer ≥ 1 (got ${minimumPeers})`);
  if (!(Number.isInteger(minimumCalls) && minimumCalls >= 1)) throw new RangeError(`adaptive threshold: minimumCalls must be an integer ≥ 1 (got ${minimumCalls})`);
  if (!(guardMargin >= 0 && guardMargin < 1)) throw new RangeError(`adaptive threshold: guardMargin must be in [0, 1) (got ${guardMargin})`);
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  assert(values.length > 0, 'median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const upper = sorted[mid];
  assert(upper !== undefined, 'median index out of range');
  if (sorted.length % 2 === 1) return upper;
  const lower = sorted[mid - 1];
  assert(lower !== undefined, 'median index out of range');
  return (lower + upper) / 2;
}

/** The threshold of one worker; `stats` holds the worker itself and any other workers (peers are picked from them). */
export function adaptiveThreshold(workerId: string, stats: readonly PeerStat[], config: AdaptiveThresholdConfig = defaultAdaptiveThresholdConfig): ThresholdDecision {
  for (const s of stats) assert(s.failureRate >= 0 && s.failureRate <= 1 && s.calls >= 0, `peer ${s.workerId} has failure rate ${s.failureRate} over ${s.calls} calls`);
  const self = stats.find((s) => s.workerId === workerId);
  const ownCalls = Math.max(1, self?.calls ?? 0);
  const group = self === undefined ? [] : stats.filter((s) => s.workerId !== workerId && s.capabilityKey === self.capabilityKey);
  const eligible = group.filter((s) => s.calls >= config.minimumCalls);

  if (eligible.length >= config.minimumPeers) {
    const rates = eligible.map((s) => s.failureRate);
    const baseline = median(rates);
    const mad = config.madScale * median(rates.map((r) => Math.abs(r - baseline)));
    // One typical peer's sample size: conservative (the median of many peers is more precise),
    // which is the side to err on when the cost of an error is cutting off a healthy machine.
    const peerCalls = median(eligible.map((s) => s.calls));
    const raw = baseline + config.k * mad;
    const peerBound = clamp(raw, config.minThreshold, config.maxThreshold);
    const guard = guardOf(baseline, ownCalls, peerCalls, config);
    const clampNote = raw < config.minThreshold ? `, raised to the minimum ${fmt(config.minThreshold)}` : raw > config.maxThreshold ? `, capped at ${fmt(config.maxThreshold)}` : '';
    const peerText = `peers' median ${fmt(baseline)} + ${config.k}×MAD ${fmt(mad)}${clampNote}; ${eligible.length} peers`;
    if (guard.threshold > peerBound) {
      return { threshold: guard.threshold, baseline, mad, peers: eligible.length, adaptive: true, reason: `adaptive: fleet guard ${guard.text} is above the peer bound (${peerText})` };
    }
    return { threshold: peerBound, baseline, mad, peers: eligible.length, adaptive: true, reason: `adaptive: ${peerText}` };
  }

  const groupCalls = group.reduce((sum, s) => sum + s.calls, 0);
  const peerCount = self === undefined ? 'worker unknown' : `${eligible.length} of ${group.length} peers with ≥ ${config.minimumCalls} calls, need ${config.minimumPeers}`;
  if (groupCalls === 0) {
    return { threshold: config.fallbackThreshold, baseline: null, mad: 0, peers: 0, adaptive: false, reason: `static fallback ${fmt(config.fallbackThreshold)} (${peerCount})` };
  }
  const pooled = group.reduce((sum, s) => sum + s.failureRate * s.calls, 0) / groupCalls;
  const guard = guardOf(pooled, ownCalls, groupCalls, config, "peers' pooled rate");
  if (guard.threshold > config.fallbackThreshold) {
    return { threshold: guard.threshold, baseline: pooled, mad: 0, peers: 0, adaptive: false, reason: `fleet guard ${guard.text} is above the static fallback ${fmt(config.fallbackThreshold)} (${peerCount})` };
  }
  return { threshold: config.fallbackThreshold, baseline: pooled, mad: 0, peers: 0, adaptive: false, reason: `static fallback ${fmt(config.fallbackThreshold)} (${peerCount})` };
}

/** The fleet guard for a baseline b measured over peerCalls calls, for a worker with ownCalls calls. */
function guardOf(baseline: number, ownCalls: number, peerCalls: number, config: AdaptiveThresholdConfig, what = "peers' median"): { threshold: number; text: string } {
  const smoothed = (baseline * peerCalls + 1) / (peerCalls + 2);
  const noise = Math.sqrt(smoothed * (1 - smoothed) * (1 / ownCalls + 1 / peerCalls));
  const threshold = baseline + config.k * noise + config.guardMargin;
  return { threshold, text: `${fmt(threshold)} = ${what} ${fmt(baseline)} + ${config.k}×noise ${fmt(noise)} (${ownCalls} vs ${fmt0(peerCalls)} calls) + margin ${fmt(config.guardMargin)}` };
}

function fmt0(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

/** Two decimals, for reasons. */
export function fmt(value: number): string {
  return value.toFixed(2);
}
