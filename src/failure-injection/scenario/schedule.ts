// The faults a scenario injects, in time order. Explicit events are taken as
// written; a random schedule is drawn from the run's seed, so a failing run
// replays exactly with the same seed.

import { FAULT_CATALOG, faultParams, type FaultEvent } from '../catalog.js';
import { assert } from '../../common/assert.js';
import { createPrng, type UniformRandom } from '../../common/rand.js';
import type { RandomFaults, Scenario } from './types.js';

/** Random events sit at start + k·every, moved by up to this share of `every` either way. */
export const RANDOM_JITTER_SHARE = 0.3;

function pick<T>(rng: UniformRandom, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

/**
 * Draws a random schedule: one event near each start + k·every ≤ end
 * (jittered ±30%, kept within [start, end]), its type, intensity and scope
 * drawn from the allowed lists. Every event draws the same number of values,
 * so the k-th event depends only on the seed and k.
 */
export function randomFaultEvents(random: RandomFaults, seed: number): FaultEvent[] {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  if (!(random.everyMs > 0) || random.endMs < random.startMs) throw new RangeError('random faults need every > 0 and end ≥ start');
  const rng = createPrng((Math.trunc(seed) + random.seedOffset) >>> 0);
  const count = Math.floor((random.endMs - random.startMs) / random.everyMs) + 1;
  const events: FaultEvent[] = [];
  for (let k = 0; k < count; k++) {
    const jitterMs = (rng() * 2 - 1) * RANDOM_JITTER_SHARE * random.everyMs;
    const nominalMs = random.startMs + k * random.everyMs;
    const atMs = Math.min(random.endMs, Math.max(random.startMs, Math.round(nominalMs + jitterMs)));
    const type = pick(rng, random.types);
    const intensity = pick(rng, random.intensities);
    const scope = pick(rng, random.scopes[type] ?? FAULT_CATALOG[type].scopes);
    events.push({ atMs, type, scope, intensity });
  }
  // Jitter stays under half of `every`, so the nominal order is the time order.
  for (let i = 1; i < events.length; i++) {
    assert((events[i]?.atMs ?? 0) >= (events[i - 1]?.atMs ?? 0), 'random fault schedule out of order');
  }
  return events;
}

/**
 * The scenario's faults sorted by time (stable: events at the same time keep
 * their file order). The seed only matters for a random schedule.
 */
export function faultSchedule(scenario: Pick<Scenario, 'faults'>, seed: number): FaultEvent[] {
  const { faults } = scenario;
  switch (faults.kind) {
    case 'none':
      return [];
    case 'events':
      return [...faults.events].sort((a, b) => a.atMs - b.atMs);
    case 'random':
      return randomFaultEvents(faults.random, seed);
  }
}

/** When the last fault heals (ms after the workload starts): max of at + durationMs; 0 with no events. */
export function scheduleEndMs(events: readonly FaultEvent[]): number {
  let endMs = 0;
  for (const event of events) endMs = Math.max(endMs, event.atMs + faultParams(event).durationMs);
  return endMs;
}
