// Seeded workloads and the pure parts of the scheduling benchmarks: a
// heavy-tailed duration generator (no Math.random: every figure is
// reproducible from --seed), static sharding strategies simulated on it, and
// small statistics helpers.

import { carveBatch, openQueue } from '../coordinator/orchestrator/file-queue.js';
import { splitByTimings } from '../coordinator/orchestrator/history.js';

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal variate (Box–Muller) from a uniform source. */
export function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(u) is finite
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export interface DurationOptions {
  /** Mean of the distribution, seconds (before any scaling). */
  readonly meanSec?: number;
  /** Shape of the lognormal: the standard deviation of log(duration). 1 gives a clear tail. */
  readonly sigma?: number;
}

export const durationDefaults = { meanSec: 1, sigma: 1 } as const;

/**
 * `count` task durations in seconds from a lognormal distribution with the
 * given mean: most tasks are short (median ≈ 0.61 × mean for sigma 1), a
 * few are many times the mean (the largest of 2,000 is typically 15–30×).
 * Deterministic for a seed.
 */
export function heavyTailedDurations(count: number, seed: number, options: DurationOptions = {}): number[] {
  const meanSec = options.meanSec ?? durationDefaults.meanSec;
  const sigma = options.sigma ?? durationDefaults.sigma;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!(meanSec > 0) || !(sigma >= 0)) throw new RangeError('meanSec must be > 0 and sigma >= 0');
  const random = seededRandom(seed);
  // E[exp(N(mu, sigma²))] = exp(mu + sigma²/2).
  const mu = Math.log(meanSec) - (sigma * sigma) / 2;
  return Array.from({ length: count }, () => Math.exp(mu + sigma * normal(random)));
}

/** Each value times a seeded uniform factor in [1 − spread, 1 + spread]: a "previous run" of the same tasks. */
export function perturb(values: readonly number[], seed: number, spread = 0.2): number[] {
  const random = seededRandom(seed ^ 0x9e3779b9);
  return values.map((v) => v * (1 - spread + 2 * spread * random()));
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** max(longest task, total work / slots): no schedule on `slots` slots can finish sooner. */
export function lowerBound(durations: readonly number[], slots: number): number {
  if (durations.length === 0) return 0;
  return Math.max(Math.max(...durations), sum(durations) / slots);
}

/** Task i → slot i mod S, in submission order. Returns each slot's task indices. */
export function roundRobin(count: number, slots: number): number[][] {
  const groups: number[][] = Array.from({ length: slots }, () => []);
  for (let i = 0; i < count; i++) groups[i % slots]!.push(i);
  return groups;
}

/** Contiguous chunks of equal count (the first count mod S chunks get one more). */
export function equalCount(count: number, slots: number): number[][] {
  const groups: number[][] = [];
  const base = Math.floor(count / slots);
  const extra = count % slots;
  let next = 0;
  for (let s = 0; s < slots; s++) {
    const size = base + (s < extra ? 1 : 0);
    groups.push(Array.from({ length: size }, (_, k) => next + k));
    next += size;
  }
  return groups;
}

/**
 * LPT on estimated durations (from a timing history), the way Testudo splits
 * files by timings: the coordinator's own `splitByTimings`, task i as file `t<i>`.
 */
export function timingStatic(estimates: readonly number[], slots: number): number[][] {
  const names = estimates.map((_, i) => `t${i}`);
  const byName = new Map(names.map((n, i) => [n, i]));
  return splitByTimings(names, slots, (file) => estimates[byName.get(file)!]!).map((files) => files.map((f) => byName.get(f)!));
}

/**
 * Greedy list scheduling, what a dynamic scheduler does with zero overhead:
 * tasks are taken in `order`, each to the slot that frees first (ties: the
 * lower slot). Returns the makespan under `durations`.
 */
export function listSchedule(order: readonly number[], durations: readonly number[], slots: number): number {
  const free = new Array<number>(Math.max(1, slots)).fill(0);
  for (const i of order) {
    let best = 0;
    for (let s = 1; s < free.length; s++) if (free[s]! < free[best]!) best = s;
    free[best] = free[best]! + durations[i]!;
  }
  return Math.max(...free);
}

/** Indices sorted by estimate, longest first (ties: submission order): the coordinator's queue order with a timing history. */
export function longestFirst(estimates: readonly number[]): number[] {
  return estimates.map((_, i) => i).sort((a, b) => estimates[b]! - estimates[a]! || a - b);
}

/** Each slot runs its tasks back to back: the makespan is the largest slot load under the true durations. */
export function makespan(groups: readonly (readonly number[])[], durations: readonly number[]): number {
  let worst = 0;
  for (const group of groups) {
    let load = 0;
    for (const i of group) load += durations[i]!;
    worst = Math.max(worst, load);
  }
  return worst;
}

/** The q-quantile (0..1) by nearest rank of unsorted values; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * A wrong history for a file-level case: a seeded quarter of the values
 * (rounded down; at least one when there are any) scaled by 1 − error or
 * 1 + error (a seeded sign each), the rest exact.
 */
export function wrongHistory(values: readonly number[], seed: number, error: number): number[] {
  if (!(error >= 0 && error < 1)) throw new RangeError(`error must be in [0, 1), got ${error}`);
  const random = seededRandom(seed ^ 0x5bd1e995);
  const order = values.map((_, i) => ({ i, key: random() })).sort((a, b) => a.key - b.key || a.i - b.i);
  const wrong = new Map<number, number>();
  const count = values.length === 0 ? 0 : Math.max(1, Math.floor(values.length / 4));
  for (const { i } of order.slice(0, count)) wrong.set(i, random() < 0.5 ? 1 - error : 1 + error);
  return values.map((v, i) => v * (wrong.get(i) ?? 1));
}

/**
 * Queue mode with zero overhead: the files ordered longest first by
 * `estimates`; each time a lane frees (the earliest; ties: the lower lane) it
 * carves its next batch the way the coordinator does (file-queue.ts).
 * Estimates and durations in seconds. Returns the makespan under `durations`
 * and the number of batches.
 */
export function queueSchedule(estimates: readonly number[], durations: readonly number[], lanes: number): { makespan: number; batches: number } {
  const names = estimates.map((_, i) => `t${i}`);
  const index = new Map(names.map((n, i) => [n, i]));
  // The carve works in ms (its floor is batchMinMs); the bench's figures are seconds.
  const estimate = (file: string): number => estimates[index.get(file)!]! * 1000;
  const template = { suite: 's', command: 'c', cwd: '.', shard: 1, shardCount: 1, files: names, splitByTimings: false, queue: true, matrix: {}, env: {}, requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] }, priority: 0, timeoutSec: 60, retries: 0, exclusive: false };
  const queue = openQueue('s', Array.from({ length: Math.max(1, lanes) }, () => template), estimate);
  const free = new Array<number>(Math.max(1, lanes)).fill(0);
  let batches = 0;
  while (queue.files.length > 0) {
    let lane = 0;
    for (let s = 1; s < free.length; s++) if (free[s]! < free[lane]!) lane = s;
    for (const file of carveBatch(queue, estimate, 0)) free[lane] = free[lane]! + durations[index.get(file)!]!;
    batches++;
  }
  return { makespan: Math.max(...free), batches };
}
