import { describe, expect, it } from 'vitest';

import {
  adaptiveThreshold,
  advance,
  allowsAssignment,
  decide,
  defaultAdaptiveThresholdConfig,
  defaultBreakerConfig,
  emptyRecoveryHistory,
  forceOpen,
  maybeHalfOpen,
  newBreaker,
  newTaskLadder,
  pendingRecovery,
  recordMiss,
  recordOutcome,
  recordRecovery,
  windowStats,
} from '../../../src/coordinator/recovery/index.js';
import type { Breaker, BreakerTransition, Decision, RecoveryHistory, TaskLadderState } from '../../../src/coordinator/recovery/index.js';

/**
 * Deterministic scenarios through breaker + adaptive threshold + ladder, the
 * way the state machine will drive them: one attempt per step, every time
 * from the step's stamp, every random choice from a seeded LCG.
 */

/** Numerical Recipes' 32-bit LCG: enough for picking workers and outcomes. */
class Lcg {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (Math.imul(this.state, 1_664_525) + 1_013_904_223) >>> 0;
    return this.state / 2 ** 32;
  }
}

interface SimTask {
  readonly id: number;
  ladder: TaskLadderState;
  avoid: readonly string[];
  pinned: string | null;
  notBeforeMs: number;
}

interface SimResult {
  readonly breakers: ReadonlyMap<string, Breaker>;
  readonly transitions: readonly (BreakerTransition & { readonly workerId: string })[];
  readonly decisions: readonly Decision[];
  readonly passed: number;
  readonly gaveUp: readonly Decision[];
  readonly attemptsByWorker: ReadonlyMap<string, number>;
  readonly history: RecoveryHistory;
}

const stepMs = 10_000;
const resetMs = 20_000;
const breakerConfig = defaultBreakerConfig;
const thresholdConfig = defaultAdaptiveThresholdConfig;

function simulate(workers: readonly string[], failProbability: (workerId: string) => number, steps: number, seed: number): SimResult {
  const rng = new Lcg(seed);
  const breakers = new Map(workers.map((w) => [w, newBreaker(0)]));
  const resettingUntil = new Map<string, number>();
  const transitions: (BreakerTransition & { workerId: string })[] = [];
  const decisions: Decision[] = [];
  const gaveUp: Decision[] = [];
  const attemptsByWorker = new Map(workers.map((w) => [w, 0]));
  let history = emptyRecoveryHistory();
  let queue: SimTask[] = [];
  let nextTaskId = 1;
  let passed = 0;

  const breakerOf = (w: string): Breaker => {
    const b = breakers.get(w);
    if (b === undefined) throw new Error(`no breaker for ${w}`);
    return b;
  };
  const setBreaker = (w: string, step: { breaker: Breaker; transition: BreakerTransition | null }): void => {
    breakers.set(w, step.breaker);
    if (step.transition === null) return;
    transitions.push({ ...step.transition, workerId: w });
    // As the state machine does: probes that fail again and again end in quarantine.
    if (step.transition.to === 'open' && step.breaker.opens >= breakerConfig.quarantineAfterOpens) setBreaker(w, forceOpen(step.breaker, step.transition.atMs, 'opened too often'));
  };
  const schedulable = (w: string, atMs: number): boolean => (resettingUntil.get(w) ?? 0) <= atMs && allowsAssignment(breakerOf(w), atMs, 0, breakerConfig);
  const thresholdOf = (w: string, atMs: number) =>
    adaptiveThreshold(
      w,
      workers.map((o) => ({ workerId: o, capabilityKey: 'linux-x64', ...pick(windowStats(breakerOf(o), atMs, breakerConfig)) })),
      thresholdConfig,
    );

  for (let step = 1; step <= steps; step++) {
    const atMs = step * stepMs;
    // The leader evaluates open → half-open lazily, when it plans assignments.
    for (const w of workers) setBreaker(w, maybeHalfOpen(breakerOf(w), atMs));

    const ready = queue.find((t) => t.notBeforeMs <= atMs);
    const task: SimTask = ready ?? { id: nextTaskId++, ladder: newTaskLadder(), avoid: [], pinned: null, notBeforeMs: 0 };
    queue = queue.filter((t) => t !== task);
    const candidates = task.pinned !== null && schedulable(task.pinned, atMs) ? [task.pinned] : workers.filter((w) => schedulable(w, atMs) && !task.avoid.includes(w));
    const chosen = candidates[Math.floor(rng.next() * candidates.length)];
    if (chosen === undefined) {
      queue.push(task);
      continue;
    }
    attemptsByWorker.set(chosen, (attemptsByWorker.get(chosen) ?? 0) + 1);
    const failed = rng.next() < failProbability(chosen);
    const threshold = thresholdOf(chosen, atMs);
    setBreaker(chosen, recordOutcome(breakerOf(chosen), failed ? { atMs, ok: false, durationMs: 1_000, failureClass: 'crash' } : { atMs, ok: true, durationMs: 1_000 }, breakerConfig, threshold));

    const pending = pendingRecovery(task.ladder);
    if (!failed) {
      if (pending !== null) history = recordRecovery(history, { failureClass: pending.failureClass, level: pending.level, recoveryMs: atMs - pending.atMs });
      passed++;
      continue;
    }
    if (pending !== null) history = recordMiss(history, { failureClass: pending.failureClass, level: pending.level });

    const b = breakerOf(chosen);
    const stats = windowStats(b, atMs, breakerConfig);
    const tried = [...task.ladder.steps.map((s) => s.workerId), chosen];
    const failure = { failureClass: 'crash' as const, workerId: chosen, atMs };
    const context = {
      otherWorkersAvailable: workers.some((w) => !tried.includes(w) && schedulable(w, atMs)),
      workerFailuresRecent: stats.failures,
      // Peer-relative, evaluated now: a breaker opened by the static fallback before the peers had data is no proof.
      workerSuspect: b.state === 'forced-open' || (stats.calls >= breakerConfig.minimumCalls && stats.failureRate >= thresholdOf(chosen, atMs).threshold),
    };
    const decision = decide(task.ladder, failure, history, context);
    decisions.push(decision);
    task.ladder = advance(task.ladder, failure, decision);
    task.avoid = decision.avoidWorkers;
    task.pinned = decision.level === 1 ? chosen : null;
    task.notBeforeMs = atMs + (decision.backoffMs ?? 0);
    if (decision.level === 3) resettingUntil.set(chosen, atMs + resetMs);
    if (decision.level === 4) setBreaker(chosen, forceOpen(b, atMs, `quarantined: ${decision.reason}`));
    if (decision.level === 5) gaveUp.push(decision);
    else queue.push(task);
  }
  return { breakers, transitions, decisions, passed, gaveUp, attemptsByWorker, history };
}

function pick(stats: { failureRate: number; calls: number }): { failureRate: number; calls: number } {
  return { failureRate: stats.failureRate, calls: stats.calls };
}

const fleet = ['w1', 'w2', 'w3', 'w4', 'w5'];

describe('scenario: one bad worker among five', () => {
  const result = simulate(fleet, (w) => (w === 'w3' ? 1 : 0.02), 200, 42);

  it('cuts the bad worker off and keeps it off', () => {
    const bad = result.breakers.get('w3');
    expect(['open', 'half-open', 'forced-open']).toContain(bad?.state);
    const badMoves = result.transitions.filter((t) => t.workerId === 'w3');
    expect(badMoves[0]).toMatchObject({ from: 'closed', to: 'open' });
    expect(badMoves[0]?.reason).toMatch(/^failure rate 1\.00 over the last 5 attempts reaches/);
    expect(badMoves.some((t) => t.to === 'closed')).toBe(false);
    // After the trip it only gets half-open probes: far fewer attempts than its peers.
    const badAttempts = result.attemptsByWorker.get('w3') ?? 0;
    for (const w of fleet.filter((o) => o !== 'w3')) expect(result.attemptsByWorker.get(w) ?? 0).toBeGreaterThan(3 * badAttempts);
  });

  it('keeps the healthy workers closed', () => {
    for (const w of fleet.filter((o) => o !== 'w3')) {
      expect(result.breakers.get(w)?.state).toBe('closed');
      expect(result.transitions.filter((t) => t.workerId === w)).toEqual([]);
    }
  });

  it('recovers the tasks elsewhere and learns that moving recovers crashes', () => {
    expect(result.gaveUp).toEqual([]);
    expect(result.passed).toBeGreaterThan(180);
    const moves = result.decisions.filter((d) => d.level === 2);
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.every((d) => d.avoidWorkers.includes(d.workerId))).toBe(true);
    expect(result.history.byClass.crash?.some((r) => r.level === 2 && r.recovered)).toBe(true);
  });

  it('replays exactly from the same seed', () => {
    const again = simulate(fleet, (w) => (w === 'w3' ? 1 : 0.02), 200, 42);
    expect(JSON.stringify([...again.breakers], null, 0)).toBe(JSON.stringify([...result.breakers]));
    expect(again.decisions).toEqual(result.decisions);
  });
});

describe('scenario: a fleet-wide failure', () => {
  it('quarantines nobody, opens no breaker, and gives every task up with a diagnosis', () => {
    const result = simulate(fleet, () => 1, 200, 7);
    expect(result.transitions).toEqual([]);
    for (const w of fleet) expect(result.breakers.get(w)?.state).toBe('closed');
    expect(result.decisions.some((d) => d.level === 4)).toBe(false);
    expect(result.passed).toBe(0);
    expect(result.gaveUp.length).toBeGreaterThan(30);
    for (const d of result.gaveUp) {
      expect(d.diagnosis).toMatch(/^gave up after \d infrastructure failures: classes crash×\d; workers tried w\d(, w\d)+; levels applied \d \S+(, \d \S+)+$/);
      expect(d.reason).toContain("skipped level 4 (worker");
    }
  });

  it('at a 60 % failure rate, quarantines nobody and still escalates some tasks to level 5', () => {
    const result = simulate(fleet, () => 0.6, 200, 11);
    expect(result.transitions.filter((t) => t.to === 'forced-open')).toEqual([]);
    expect(result.transitions.filter((t) => t.to === 'open')).toEqual([]);
    expect(result.decisions.some((d) => d.level === 4)).toBe(false);
    expect(result.gaveUp.length).toBeGreaterThan(0);
    expect(result.passed).toBeGreaterThan(0);
  });
});
