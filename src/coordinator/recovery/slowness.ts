/**
 * Slow workers: predictive down-weighting before anything fails
 * (docs/recovery.md, "Slow workers").
 *
 * Every attempt that ran its tests leaves a pace in its worker's breaker
 * window: its duration ÷ the task's expected duration (breaker.ts,
 * paceOfCall). A worker's pace is the median of its last paceCallsUsed
 * paces; it is slow when that is at least `slowPaceFactor` times its peers'
 * median pace (the other active workers of its capability class). Paces,
 * not durations: a worker handed the long suites is not slow for it. Where
 * no task has a history, every expected duration is the same fallback, so
 * the paces still compare workers fed from one queue.
 *
 * A slow worker keeps its slots (its capacity still shortens a long queue)
 * but gets no prefetch, no task at the tail that a faster slot would finish
 * sooner (tailPrefersFaster), and its attempts at the tail are hedged on a
 * faster worker once a hedge is predicted to finish first (slowHedgeDue).
 *
 * Pure: no clock, no randomness; every time is the caller's stamp.
 */
import { assert } from '../../raft/index.js';
import { median } from './adaptive-threshold.js';
import type { Breaker } from './breaker.js';

/** The paced calls a worker's pace is the median of: the last this many. */
export const paceCallsUsed = 8;
/** Fewer paced calls than this: the worker has no pace yet (one slow test is not a slow machine). */
export const paceCallsMin = 4;
/** Calls older than this say nothing about the worker now: a worker that was slow an hour ago and has run nothing since is not slow. */
export const paceHorizonMs = 300_000;

/** A worker's pace: the median of its recent paces, and how many calls it rests on. */
export interface Pace {
  readonly pace: number;
  readonly calls: number;
}

/** Why a worker is slow: its pace, its peers' median pace, and their ratio. */
export interface Slowness extends Pace {
  readonly peersPace: number;
  /** pace ÷ peersPace (≥ the factor). */
  readonly relative: number;
}

/** The worker's pace at `nowMs` from its breaker window, or null below paceCallsMin recent paced calls. */
export function workerPace(breaker: Breaker, nowMs: number): Pace | null {
  const paces: number[] = [];
  for (let i = breaker.calls.length - 1; i >= 0 && paces.length < paceCallsUsed; i--) {
    const call = breaker.calls[i]!;
    if (call.atMs < nowMs - paceHorizonMs) break;
    if (call.pace !== undefined) paces.push(call.pace);
  }
  return paces.length < paceCallsMin ? null : { pace: median(paces), calls: paces.length };
}

/**
 * The worker's slowness when its pace is at least `factor` times its peers'
 * median pace; null when it is not slow, when the factor is 0 (off), or when
 * no peer has a pace to compare with.
 */
export function slownessOf(own: Pace | null, peerPaces: readonly number[], factor: number): Slowness | null {
  if (factor === 0 || own === null || peerPaces.length === 0) return null;
  const peersPace = median(peerPaces);
  if (!(peersPace > 0) || own.pace < factor * peersPace) return null;
  return { ...own, peersPace, relative: own.pace / peersPace };
}

/** The reason `workers list` and `runs show --explain` give for a slow worker. */
export function slowReason(s: Slowness, factor: number): string {
  return `slow: its last ${s.calls} attempts took ${s.pace.toFixed(2)}× their expected time, its peers' median ${s.peersPace.toFixed(2)}× (${s.relative.toFixed(1)}× ≥ slowPaceFactor ${factor})`;
}

/**
 * Whether a queued task should wait for a faster slot rather than start on a
 * slow worker `relative` times slower: with `queued` tasks ahead of the
 * fleet and `fasterSlots` slots of workers at full pace, the last of them
 * starts on a faster slot within about queued ÷ fasterSlots expected
 * durations and ends one later, which beats `relative` durations on the
 * slow worker while queued ≤ fasterSlots × (relative − 1). Only a tail
 * waits: a longer queue needs every slot.
 */
export function tailPrefersFaster(queued: number, fasterSlots: number, relative: number): boolean {
  assert(relative >= 1, `relative pace ${relative} below 1`);
  return fasterSlots > 0 && queued <= fasterSlots * (relative - 1);
}

/**
 * Whether an attempt on a slow worker, `ranMs` into a task expected to take
 * `expectedMs`, should be hedged now: the time it still needs at its
 * worker's pace exceeds, by `marginMs`, what a peer would need from scratch.
 */
export function slowHedgeDue(ranMs: number, expectedMs: number, s: Slowness, marginMs: number): boolean {
  return s.pace * expectedMs - ranMs >= s.peersPace * expectedMs + marginMs;
}
