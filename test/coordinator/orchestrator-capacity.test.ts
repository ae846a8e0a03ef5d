import { describe, expect, it } from 'vitest';

import { SeededRng } from '../../src/common/rand.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { Driver, infra, registration, result, submission, template } from './orchestrator-fixtures.js';

/**
 * The scheduler's read-only view of the workers (schedulableWorkers, and the
 * service `workers list` shows) and the assign command's own check must
 * agree: a worker listed with a free slot takes an assignment at that
 * stamp, one listed without does not, and a worker out of service is not
 * listed at all. Driven through random histories of passes, infrastructure
 * failures, losses, releases and elapsing time, from seeds.
 */
describe('Orchestrator: one capacity rule for the scheduler, assign and the service', () => {
  const workers = ['w1', 'w2', 'w3', 'w4'];

  function history(seed: number): { d: Driver; endMs: number } {
    const rng = new SeededRng(seed);
    const d = new Driver();
    d.apply({ type: 'set-breaker-config', config: { minimumCalls: 4, window: { kind: 'count', size: 6 }, openBaseMs: 500, failingPaceMs: 300, outlierMargin: 0.2, quarantineCooldownMs: 2000, prefetchPerSlot: 0.5 } }, 0);
    for (const id of workers) d.register(registration(id, { slots: 1 + rng.intBelow(3) }));
    d.submit('r1', submission(Array.from({ length: 400 }, (_, i) => template({ suite: `s${i}`, retries: 3 }))), 0);
    let now = 1;
    for (let step = 0; step < 60; step++) {
      now += rng.intBelow(700);
      d.schedule(now);
      for (const w of d.o.listWorkers()) {
        for (const attemptId of w.running) {
          if (!rng.chance(0.5)) continue;
          const failing = w.workerId === 'w1' ? 0.8 : w.workerId === 'w2' ? 0.3 : 0.05;
          d.results([rng.chance(failing) ? infra(attemptId, w.workerId) : result(attemptId, w.workerId)], now);
        }
      }
      if (rng.chance(0.02)) d.lost(workers[rng.intBelow(workers.length)]!, now);
      for (const w of d.o.listWorkers()) if (w.state === 'lost' && rng.chance(0.2)) d.register(registration(w.workerId, { slots: w.slots }), now);
      if (rng.chance(0.03)) d.apply({ type: 'release-worker', workerId: workers[rng.intBelow(workers.length)]!, reason: 'operator' }, now);
    }
    return { d, endMs: now };
  }

  /** Checks the agreement at a few stamps after the seed's history; returns the services seen. */
  function checkAgreement(seed: number): Set<string> {
    const services = new Set<string>();
    const { d, endMs } = history(seed);
    for (const offsetMs of [0, 100, 400, 1500, 5000, 30_000]) {
      const at = endMs + offsetMs;
      const listed = new Map(d.o.schedulableWorkers(at).map((w) => [w.workerId, w]));
      for (const view of d.o.listWorkers()) {
        const service = d.o.workerService(view.workerId, at).service;
        services.add(service);
        const entry = listed.get(view.workerId);
        expect(entry === undefined, `${view.workerId} at ${at}: ${service}`).toBe(service === 'out');
        if (entry === undefined) continue;
        // A fresh task, assigned on a copy of the state at the same stamp.
        const copy = new Driver(new Orchestrator());
        copy.o.restore(d.o.snapshot());
        copy.submit('probe', submission([template({ suite: 'probe' })]), at);
        const taken = copy.assign([{ taskId: 'probe.t1', workerId: view.workerId }], at).assigned.length === 1;
        expect(taken, `${view.workerId} at ${at}: ${service}, ${entry.freeSlots} free, ${entry.prefetchSlots} prefetch`).toBe(entry.freeSlots + (entry.prefetchSlots ?? 0) > 0);
      }
    }
    return services;
  }

  it('agree after the histories of seeds 1..8, which reach every kind of service', () => {
    const services = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) for (const s of checkAgreement(seed)) services.add(s);
    expect([...services].sort()).toEqual(['full', 'one-at-a-time', 'out', 'paced', 'probing']);
  });
});
