import { describe, expect, it } from 'vitest';

import type { AssignOutcome, OrchEvent } from '../../src/coordinator/orchestrator/state.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { duplicateResults } from '../../src/failure-injection/analysis.js';
import { Driver, failed, infra, registration, result, submission, template } from './orchestrator-fixtures.js';

/**
 * Hedging at the tail in the replicated state: a second attempt of a task
 * whose one attempt straggles far past its expected duration, on an idle
 * healthy worker; the first verdict wins, the other attempt is cancelled and
 * its late result never counted; a failure or loss of one of the pair leaves
 * the task to the other.
 */
describe('Orchestrator: hedging at the tail', () => {
  /**
   * w1 and w2 with one slot each (no prefetch). Run r0 teaches the history
   * that the task takes 1,000 ms; run r1's task then runs on w1 from t=10,000,
   * so its hedge point is max(2 × 1,000, 1,000 + 1,000) = 2,000 ms later.
   */
  function fleet(over: Record<string, unknown> = {}, o = new Orchestrator()): { d: Driver; events: OrchEvent[] } {
    const d = new Driver(o);
    const events: OrchEvent[] = [];
    d.o.onChange((_runs, _type, e) => events.push(...e));
    d.apply({ type: 'set-breaker-config', config: { prefetchPerSlot: 0, ...over } }, 0);
    d.register(registration('w1', { slots: 1 }));
    d.register(registration('w2', { slots: 1 }));
    d.submit('r0', submission([template({ retries: 1 })]), 0);
    d.assign([{ taskId: 'r0.t1', workerId: 'w2' }], 1);
    d.results([result('r0.t1.a1', 'w2', { startedAtMs: 1000, finishedAtMs: 2000 })], 2);
    d.submit('r1', submission([template({ retries: 1 })]), 9_000);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 10_000);
    return { d, events };
  }
  const hedge = (d: Driver, atMs: number): AssignOutcome => d.apply({ type: 'hedge', assignments: d.o.hedgeCandidates(atMs) }, atMs) as AssignOutcome;
  const attempts = (d: Driver): { id: string; state: string; hedge: boolean }[] =>
    d.o.getRun('r1')!.tasks[0]!.attempts.map((a) => ({ id: a.attemptId, state: a.state, hedge: a.hedge === true }));

  it('hedges a straggler on an idle worker only past its hedge point', () => {
    const { d, events } = fleet();
    expect(d.o.hedgeCandidates(11_999)).toEqual([]);
    // Proposed early, the command changes nothing: safety does not rest on the leader's plan.
    expect(d.apply({ type: 'hedge', assignments: [{ taskId: 'r1.t1', workerId: 'w2' }] }, 11_999)).toEqual({ assigned: [], skipped: 1 });
    expect(d.o.hedgeCandidates(12_000)).toEqual([{ taskId: 'r1.t1', workerId: 'w2' }]);
    expect(hedge(d, 12_000).assigned).toEqual([{ attemptId: 'r1.t1.a2', taskId: 'r1.t1', workerId: 'w2' }]);
    expect(attempts(d)).toEqual([
      { id: 'r1.t1.a1', state: 'running', hedge: false },
      { id: 'r1.t1.a2', state: 'running', hedge: true },
    ]);
    expect(d.o.getRun('r1')!.counts).toMatchObject({ running: 1, queued: 0 });
    expect(events.filter((e) => e.kind === 'hedge')).toEqual([{ kind: 'hedge', step: 'started', taskId: 'r1.t1' }]);
    // Once: no second hedge, whatever the time.
    expect(d.o.hedgeCandidates(60_000)).toEqual([]);
  });

  it('never hedges on its own worker, a busy one, with tasks queued, without a history, or when turned off', () => {
    const { d } = fleet();
    d.apply({ type: 'hedge', assignments: [{ taskId: 'r1.t1', workerId: 'w1' }] }, 12_000);
    expect(attempts(d)).toHaveLength(1);

    const queued = fleet();
    queued.d.submit('r2', submission([template({ suite: 'other' })]), 11_000);
    expect(queued.d.o.hedgeCandidates(20_000)).toEqual([]);

    const unknown = fleet();
    unknown.d.submit('r3', submission([template({ suite: 'never-seen' })]), 11_000);
    unknown.d.assign([{ taskId: 'r3.t1', workerId: 'w2' }], 11_000);
    unknown.d.results([result('r1.t1.a1', 'w1')], 11_500);
    // w1 is idle now, but r3's task has no history: no hedge on a guess.
    expect(unknown.d.o.hedgeCandidates(60_000)).toEqual([]);

    expect(fleet({ hedgeAfterFactor: 0 }).d.o.hedgeCandidates(60_000)).toEqual([]);
    expect(fleet({ adaptiveRecovery: false }).d.o.hedgeCandidates(60_000)).toEqual([]);
  });

  it("without a history, takes the median of what the run's tasks of the same suite took, once five have ended", () => {
    const d = new Driver();
    d.apply({ type: 'set-breaker-config', config: { prefetchPerSlot: 0 } }, 0);
    d.register(registration('w1', { slots: 1 }));
    d.register(registration('w2', { slots: 1 }));
    d.submit('r1', submission(Array.from({ length: 7 }, (_, i) => template({ suite: 'p', shard: i + 1, shardCount: 7 }))), 0);
    d.assign([{ taskId: 'r1.t7', workerId: 'w1' }], 100);
    for (let k = 1; k <= 4; k++) {
      d.assign([{ taskId: `r1.t${k}`, workerId: 'w2' }], k * 1000);
      d.results([result(`r1.t${k}.a1`, 'w2', { startedAtMs: 0, finishedAtMs: 900 + k * 50 })], k * 1000 + 999);
    }
    // Not the tail while t5 and t6 are queued, even once five peers have ended.
    expect(d.o.hedgeCandidates(4999)).toEqual([]);
    d.assign([{ taskId: 'r1.t5', workerId: 'w2' }], 5000);
    d.results([result('r1.t5.a1', 'w2', { startedAtMs: 0, finishedAtMs: 1000 })], 5999);
    expect(d.o.hedgeCandidates(6000)).toEqual([]);
    d.assign([{ taskId: 'r1.t6', workerId: 'w2' }], 6000);
    d.results([result('r1.t6.a1', 'w2', { startedAtMs: 0, finishedAtMs: 1100 })], 6999);
    // Five peers, median 1,000 ms: t7, running on w1 since t=100, is past max(2,000, 2,000).
    expect(d.o.hedgeCandidates(7000)).toEqual([{ taskId: 'r1.t7', workerId: 'w2' }]);
    expect(d.apply({ type: 'hedge', assignments: [{ taskId: 'r1.t7', workerId: 'w2' }] }, 7000)).toMatchObject({ assigned: [{ attemptId: 'r1.t7.a2' }] });
  });

  it('counts the hedge when it ends first: the straggler is cancelled, and its late result is not counted', () => {
    const { d, events } = fleet();
    hedge(d, 12_000);
    expect(d.results([result('r1.t1.a2', 'w2')], 12_600).statuses).toEqual([{ attemptId: 'r1.t1.a2', status: 'counted' }]);
    expect(attempts(d)).toEqual([
      { id: 'r1.t1.a1', state: 'cancelled', hedge: false },
      { id: 'r1.t1.a2', state: 'passed', hedge: true },
    ]);
    expect(d.o.getRun('r1')!.state).toBe('passed');
    expect(d.o.worker('w1')!.running).toEqual([]);
    expect(events).toContainEqual({ kind: 'hedge', step: 'won', taskId: 'r1.t1' });
    expect(events).toContainEqual(expect.objectContaining({ kind: 'cancel-attempt', workerId: 'w1', attemptId: 'r1.t1.a1' }));
    // The straggler's own verdict arrives after all: recorded late, never counted.
    expect(d.results([failed('r1.t1.a1', 'w1')], 13_000).statuses).toEqual([{ attemptId: 'r1.t1.a1', status: 'late' }]);
    const task = d.o.getRun('r1')!.tasks[0]!;
    expect(task.state).toBe('passed');
    expect(task.attempts[0]!.result).toBeUndefined();
    expect(task.attempts[0]!.lateResults).toBe(1);
  });

  it('cancels the hedge when the straggler ends first', () => {
    const { d, events } = fleet();
    hedge(d, 12_000);
    d.results([failed('r1.t1.a1', 'w1')], 12_100);
    // A failed test with a retry left: the hedge, on another worker, is that retry.
    expect(attempts(d).map((a) => a.state)).toEqual(['failed', 'running']);
    expect(d.o.getRun('r1')!.tasks[0]!.state).toBe('running');
    d.results([failed('r1.t1.a2', 'w2')], 12_900);
    expect(d.o.getRun('r1')!.tasks[0]!.state).toBe('failed');

    const other = fleet();
    hedge(other.d, 12_000);
    other.d.results([result('r1.t1.a1', 'w1')], 12_100);
    expect(attempts(other.d).map((a) => a.state)).toEqual(['passed', 'cancelled']);
    expect(other.events).toContainEqual({ kind: 'hedge', step: 'lost', taskId: 'r1.t1' });
    expect(other.events).toContainEqual(expect.objectContaining({ kind: 'cancel-attempt', workerId: 'w2', attemptId: 'r1.t1.a2' }));
    expect(events.filter((e) => e.kind === 'cancel-attempt')).toEqual([]);
  });

  it('leaves the task to the other attempt when one fails for the infrastructure or its worker is lost', () => {
    const { d } = fleet();
    hedge(d, 12_000);
    d.results([infra('r1.t1.a1', 'w1')], 12_100);
    expect(attempts(d).map((a) => a.state)).toEqual(['infra-error', 'running']);
    expect(d.o.getRun('r1')!.tasks[0]!.decisions).toEqual([]);
    expect(d.o.queuedCount).toBe(0);
    d.results([result('r1.t1.a2', 'w2')], 12_500);
    expect(d.o.getRun('r1')!.state).toBe('passed');

    const lost = fleet();
    hedge(lost.d, 12_000);
    expect(lost.d.lost('w2', 12_200)).toEqual({ requeued: 0, failed: 0 });
    expect(attempts(lost.d).map((a) => a.state)).toEqual(['running', 'lost']);
    // The hedge is spent: the straggler runs on alone, and its loss now takes the ladder.
    expect(lost.d.o.hedgeCandidates(30_000)).toEqual([]);
    lost.d.lost('w1', 30_000);
    expect(lost.d.o.getRun('r1')!.tasks[0]!.state).toBe('queued');
  });

  it('cancels both attempts with the run, and a snapshot keeps the pair', () => {
    const { d } = fleet();
    hedge(d, 12_000);
    const copy = new Orchestrator();
    copy.restore(d.o.snapshot());
    copy.checkInvariants();
    expect(Buffer.from(copy.snapshot()).equals(Buffer.from(d.o.snapshot()))).toBe(true);
    expect(d.cancel('r1', 12_100).cancelled).toEqual([
      { attemptId: 'r1.t1.a1', workerId: 'w1' },
      { attemptId: 'r1.t1.a2', workerId: 'w2' },
    ]);
    expect(d.o.worker('w1')!.running).toEqual([]);
    expect(d.o.worker('w2')!.running).toEqual([]);
  });

  it("passes the chaos duplicate check, which catches a planted bug that counts the loser's late verdict", () => {
    for (const planted of [false, true]) {
      const { d } = fleet({}, new Orchestrator(planted ? { plantedBug: 'count-late-result' } : {}));
      hedge(d, 12_000);
      d.results([result('r1.t1.a2', 'w2')], 12_600);
      d.results([result('r1.t1.a1', 'w1')], 13_000);
      const findings = duplicateResults(d.o.getRun('r1')!);
      if (planted) expect(findings).toEqual([{ check: 'duplicate', text: 'r1.t1: a late result was counted on r1.t1.a1 (cancelled)' }]);
      else expect(findings).toEqual([]);
    }
  });

  it('refuses settings out of range', () => {
    const d = new Driver();
    expect(() => d.apply({ type: 'set-breaker-config', config: { hedgeAfterFactor: 0.5 } }, 0)).toThrow(/hedgeAfterFactor/);
    expect(() => d.apply({ type: 'set-breaker-config', config: { hedgeMinMs: -1 } }, 0)).toThrow(/hedgeMinMs/);
  });
});
