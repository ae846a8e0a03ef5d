import { assert } from '../../common/assert.js';
import type { BreakerState } from './breaker.js';

/**
 * The ejection cap. An open breaker takes its worker out of service, but
 * never more than `maxEjectedShare` of a capability class's slots at once:
 * when a fault hits many workers of a class, it is the fleet that is sick,
 * and ejecting them all would only stop the run. Pure: the caller passes the
 * workers as they are in the replicated state, so every replica computes the
 * same set.
 *
 *   class        = the active workers with the worker's capabilityKey
 *   forced-open  = always ejected (a quarantine is a decision, not a guess)
 *   open         = in order of opening (sinceMs, then id), ejected while
 *                  ejectedSlots + slots ≤ share · classSlots, or when nothing
 *                  of the class is ejected yet; never when no slot of the
 *                  class would be left in service
 *   over the cap = stays in service at a lower weight: one attempt at a time
 */

/** What the cap needs to know of a worker. */
export interface EjectionCandidate {
  readonly workerId: string;
  readonly capabilityKey: string;
  readonly slots: number;
  readonly breakerState: BreakerState;
  /** When the breaker entered its state. */
  readonly sinceMs: number;
}

/** Attempts at a time of an open worker kept in service past the cap. */
export const degradedSlots = 1;

/** The ids of the class's workers that open breakers take out of service, under the cap. */
export function ejectedWorkers(workers: Iterable<EjectionCandidate>, capabilityKey: string, maxEjectedShare: number): Set<string> {
  assert(maxEjectedShare >= 0 && maxEjectedShare <= 1, `ejection share ${maxEjectedShare}`);
  const members = [...workers].filter((w) => w.capabilityKey === capabilityKey);
  const classSlots = members.reduce((sum, w) => sum + w.slots, 0);
  const ejected = new Set<string>();
  let ejectedSlots = 0;
  for (const w of members) {
    if (w.breakerState !== 'forced-open') continue;
    ejected.add(w.workerId);
    ejectedSlots += w.slots;
  }
  const open = members.filter((w) => w.breakerState === 'open').sort((a, b) => a.sinceMs - b.sinceMs || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
  for (const w of open) {
    const after = ejectedSlots + w.slots;
    // Some of the class must stay in service; within that, the first one always goes.
    if (after >= classSlots || (ejectedSlots > 0 && after > maxEjectedShare * classSlots)) continue;
    ejected.add(w.workerId);
    ejectedSlots += w.slots;
  }
  return ejected;
}

/** Failures a worker's window must hold before outlier weighting may apply (one failure is luck). */
export const outlierFailuresMin = 2;

/**
 * Outlier weighting, short of a trip (after Envoy's success-rate outlier
 * detection): a worker that fails clearly more often than its peers, but not
 * enough to open its breaker (a spawn that fails one time in three), keeps
 * running at a lower weight, degradedSlots attempts at a time, until its
 * window is clean enough again. Pure: the caller passes the window statistics
 * of the worker and of its peers (the same capability class, the worker
 * itself left out). No peers with calls, no comparison: a lone worker is
 * never an outlier, and a fault the whole class shares raises the median with
 * it.
 *
 *   degraded = margin > 0 and failures ≥ outlierFailuresMin and
 *              failureRate ≥ median(peers' failure rates) + margin
 */
export function isOutlier(worker: { readonly failures: number; readonly failureRate: number }, peerRates: readonly number[], margin: number): boolean {
  assert(margin >= 0 && margin <= 1, `outlier margin ${margin}`);
  if (margin === 0 || worker.failures < outlierFailuresMin || peerRates.length === 0) return false;
  const sorted = [...peerRates].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return worker.failureRate >= median + margin;
}
