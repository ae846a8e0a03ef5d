import { describe, expect, it } from 'vitest';

import type { AssignOutcome } from '../../src/coordinator/orchestrator/state.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { Driver, registration, result, submission, template } from './orchestrator-fixtures.js';

/**
 * Slow workers in the replicated state (docs/recovery.md, "Slow workers"):
 * a worker whose attempts take far longer than its peers' against their
 * expected durations keeps its slots, but gets no prefetch, no task at the
 * tail while faster slots free in time, and its attempts at the tail are
 * hedged on a faster worker.
 */
describe('Orchestrator: slow workers', () => {
  const tasks = (n: number): ReturnType<typeof template>[] => Array.from({ length: n }, (_, i) => template({ shard: i + 1, shardCount: n }));

  /**
   * w1, w2, w3 with one slot each. Run r0's 15 tasks (no history: each
   * expected to take the 1,000 ms fallback) run five per worker, w1's in
   * 3,000 ms and the others' in 1,000 ms; it ends at t=20,000.
   */
  function fleet(over: Record<string, unknown> = {}, slots = 1): Driver {
    const d = new Driver(new Orchestrator());
    // Off by default (docs/recovery.md, "Slow workers"): turned on here.
    d.apply({ type: 'set-breaker-config', config: { slowPaceFactor: 2, ...over } }, 0);
    for (const id of ['w1', 'w2', 'w3']) d.register(registration(id, { slots }));
    d.submit('r0', submission(tasks(15)), 0);
    for (let round = 0; round < 5; round++) {
      const atMs = 1000 + round * 3000;
      const ids = [1, 2, 3].map((w) => `r0.t${round * 3 + w}`);
      d.assign(ids.map((taskId, i) => ({ taskId, workerId: `w${i + 1}` })), atMs);
      d.results(
        ids.map((taskId, i) => result(`${taskId}.a1`, `w${i + 1}`, { startedAtMs: atMs, finishedAtMs: atMs + (i === 0 ? 3000 : 1000) })),
        atMs + 3000,
      );
    }
    return d;
  }

  it("names a worker slow, with its evidence, at slowPaceFactor times its peers' pace", () => {
    const d = fleet();
    expect(d.o.workerService('w1', 20_000)).toEqual({
      service: 'slow',
      reason: "slow: its last 5 attempts took 3.00× their expected time, its peers' median 1.00× (3.0× ≥ slowPaceFactor 2)",
    });
    expect(d.o.workerService('w2', 20_000)).toEqual({ service: 'full', reason: '' });
    // It keeps its slots but holds nothing beyond them; the others may prefetch.
    const view = new Map(d.schedulableWorkers(20_000).map((w) => [w.workerId, w]));
    expect(view.get('w1')).toMatchObject({ freeSlots: 1, prefetchSlots: 0, relativePace: 3 });
    expect(view.get('w2')).toMatchObject({ freeSlots: 1, prefetchSlots: 1 });
    expect(view.get('w2')!.relativePace).toBeUndefined();
  });

  it('leaves a short tail to the faster workers, but for one attempt, and uses every slot for a long queue', () => {
    const tail = fleet({}, 2);
    tail.submit('r1', submission(tasks(6)), 20_000);
    // 6 tasks, 4 faster slots, w1 (2 slots) 3x slower: 6 ≤ 4 × (3 − 1), so w1 takes only the one
    // attempt that lets its pace recover.
    const plan = tail.plan(20_000);
    expect(plan.filter((a) => a.workerId === 'w1')).toHaveLength(1);
    expect(plan).toHaveLength(5);
    tail.assign(plan, 20_000);
    tail.submit('r2', submission(tasks(2)), 20_000);
    // Busy with that one, w1 takes nothing more at the tail.
    expect(tail.plan(20_000).filter((a) => a.workerId === 'w1')).toEqual([]);

    const long = fleet();
    long.submit('r1', submission(tasks(12)), 20_000);
    expect(long.plan(20_000).filter((a) => a.workerId === 'w1')).toHaveLength(1);
  });

  it('hedges a tail attempt on the slow worker while a faster one would finish first, and says why', () => {
    const d = fleet({ prefetchPerSlot: 0 });
    d.submit('r1', submission(tasks(1)), 20_000);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 20_000);
    // Expected 3,000 ms on w1 against 1,000 ms on a peer, margin hedgeMinMs 1,000: due until 1,000 ms in.
    expect(d.o.hedgeCandidates(21_001)).toEqual([]);
    const candidates = d.o.hedgeCandidates(20_500);
    expect(candidates).toHaveLength(1);
    const outcome = d.apply({ type: 'hedge', assignments: candidates }, 20_500) as AssignOutcome;
    expect(outcome.assigned).toHaveLength(1);
    const hedge = d.o.getRun('r1')!.tasks[0]!.attempts[1]!;
    expect(hedge).toMatchObject({ hedge: true, state: 'running' });
    expect(hedge.hedgedBecause).toMatch(/^attempt 1 runs on w1, slow: its last 5 attempts took 3\.00×.*a faster worker should finish first$/);
  });

  it('weighs nobody with adaptive recovery off, the factor at 0, or once the evidence is old', () => {
    expect(fleet({ adaptiveRecovery: false }).o.workerService('w1', 20_000).service).toBe('full');
    expect(fleet({ slowPaceFactor: 0 }).o.workerService('w1', 20_000).service).toBe('full');
    expect(fleet().o.workerService('w1', 20_000 + 300_000).service).toBe('full');
    expect(() => fleet({ slowPaceFactor: 1.1 })).toThrow(/slowPaceFactor/);
  });

  it('replicas agree: the slowness rests on replicated paces, and survives a snapshot', () => {
    const a = fleet();
    const b = new Orchestrator();
    b.restore(a.o.snapshot());
    expect(b.workerService('w1', 20_000)).toEqual(a.o.workerService('w1', 20_000));
    expect(b.schedulableWorkers(20_000)).toEqual(a.o.schedulableWorkers(20_000));
  });
});
