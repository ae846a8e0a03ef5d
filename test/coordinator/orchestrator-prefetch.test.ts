import { describe, expect, it } from 'vitest';

import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { Driver, infra, registration, result, submission, template } from './orchestrator-fixtures.js';

/**
 * Prefetch in the replicated state: a worker may hold committed attempts
 * beyond its slots only while its breaker is closed and its pace free; a
 * held attempt is requeued with the worker's loss, sent again to a worker
 * that restarted, and the bound is a replicated setting.
 */
describe('Orchestrator: prefetch', () => {
  function fleet(slots: number, perSlot: number, tasks = 20): Driver {
    const d = new Driver();
    d.apply({ type: 'set-breaker-config', config: { prefetchPerSlot: perSlot, failingPaceMs: 0 } }, 0);
    d.register(registration('w1', { slots }));
    d.submit('r1', submission(Array.from({ length: tasks }, (_, i) => template({ suite: `s${i}` }))), 0);
    return d;
  }
  const ids = (from: number, to: number): { taskId: string; workerId: string }[] =>
    Array.from({ length: to - from + 1 }, (_, i) => ({ taskId: `r1.t${from + i}`, workerId: 'w1' }));

  it('lets a healthy worker hold ceil(slots × prefetchPerSlot) attempts beyond its slots, and no more', () => {
    const d = fleet(4, 0.5);
    expect(d.o.schedulableWorkers(1)).toMatchObject([{ workerId: 'w1', freeSlots: 4, prefetchSlots: 2, slots: 4 }]);
    const out = d.assign(ids(1, 8), 1);
    expect(out.assigned).toHaveLength(6);
    expect(out.skipped).toBe(2);
    expect(d.o.schedulableWorkers(2)).toMatchObject([{ freeSlots: 0, prefetchSlots: 0 }]);
    // A result frees one: one more may be held.
    d.results([result('r1.t1.a1', 'w1')], 3);
    expect(d.o.schedulableWorkers(4)).toMatchObject([{ freeSlots: 0, prefetchSlots: 1 }]);
  });

  it('holds nothing beyond the slots with prefetch off, its breaker disabled, or open', () => {
    const off = fleet(2, 0);
    expect(off.assign(ids(1, 4), 1).assigned).toHaveLength(2);

    const disabled = fleet(2, 1);
    disabled.apply({ type: 'set-breaker', workerId: 'w1', enabled: false, reason: 'test' }, 1);
    expect(disabled.o.schedulableWorkers(2)).toMatchObject([{ freeSlots: 2, prefetchSlots: 0 }]);
    expect(disabled.assign(ids(1, 4), 2).assigned).toHaveLength(2);

    const d = fleet(2, 1);
    d.apply({ type: 'set-breaker-config', config: { minimumCalls: 2, window: { kind: 'count', size: 2 } } }, 0);
    d.assign(ids(1, 2), 1);
    d.results([infra('r1.t1.a1', 'w1'), infra('r1.t2.a1', 'w1')], 2);
    expect(d.o.worker('w1')?.breaker.state).toBe('open');
    expect(d.o.schedulableWorkers(3).every((w) => w.prefetchSlots === 0)).toBe(true);
    d.apply({ type: 'worker-reset-done', workerId: 'w1', ok: true, reason: 'the reset the ladder asked for' }, 4);
    // Its wait over, the breaker lets its 2 half-open probes through: those, and nothing held beyond them.
    expect(d.o.schedulableWorkers(10_000)).toMatchObject([{ workerId: 'w1', freeSlots: 2, prefetchSlots: 0 }]);
    expect(d.assign(ids(3, 6), 10_000).assigned).toHaveLength(2);
    expect(d.o.worker('w1')?.breaker.state).toBe('half-open');
  });

  it('holds nothing beyond the slots while the worker is paced (its last calls all failed)', () => {
    const d = fleet(1, 2);
    d.apply({ type: 'set-breaker-config', config: { failingPaceMs: 1000, minimumCalls: 20 } }, 0);
    for (let k = 1; k <= 3; k++) {
      d.assign([{ taskId: `r1.t${k}`, workerId: 'w1' }], k * 10_000);
      d.results([infra(`r1.t${k}.a1`, 'w1', 'spawn-error')], k * 10_000 + 1);
    }
    // The ladder asked for a reset after these failures; done, the worker is back, still failing now.
    d.apply({ type: 'worker-reset-done', workerId: 'w1', ok: true, reason: 'done' }, 40_000);
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
    expect(d.o.schedulableWorkers(50_000)).toMatchObject([{ freeSlots: 1, prefetchSlots: 0 }]);
    expect(d.assign(ids(10, 12), 50_000).assigned).toHaveLength(1);
  });

  it('requeues held attempts with a lost worker, like running ones; a late verdict from one is not counted', () => {
    const d = fleet(2, 1);
    expect(d.assign(ids(1, 4), 1).assigned).toHaveLength(4);
    expect(d.lost('w1', 2)).toEqual({ requeued: 4, failed: 0 });
    const run = d.o.getRun('r1')!;
    expect(run.counts.queued).toBe(20);
    expect(d.results([result('r1.t4.a1', 'w1')], 3).statuses).toEqual([{ attemptId: 'r1.t4.a1', status: 'late' }]);
  });

  it('sends a restarted worker (its queue gone) the held attempts again, and nothing to one that still holds them', () => {
    const d = fleet(2, 1);
    d.assign(ids(1, 4), 1);
    const restarted = d.register(registration('w1', { slots: 2, running: [], pending: [] }), 2);
    expect(restarted.resend).toEqual(['r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1', 'r1.t4.a1']);
    const holding = d.register(registration('w1', { slots: 2, running: ['r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1', 'r1.t4.a1'], pending: [] }), 3);
    expect(holding).toMatchObject({ resend: [], cancel: [] });
  });

  it('keeps the bound in the replicated settings (snapshot and restore)', () => {
    const d = fleet(2, 1.5);
    const copy = new Orchestrator();
    copy.restore(d.o.snapshot());
    expect(copy.breakerConfig().prefetchPerSlot).toBe(1.5);
    expect(() => d.apply({ type: 'set-breaker-config', config: { prefetchPerSlot: 5 } }, 1)).toThrow(/prefetchPerSlot/);
  });
});
