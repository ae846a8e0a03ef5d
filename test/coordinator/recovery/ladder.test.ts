import { describe, expect, it } from 'vitest';

import {
  advance,
  decide,
  defaultLadderConfig,
  emptyRecoveryHistory,
  expectedRecovery,
  holdWaitMs,
  ladderStepsMax,
  lastWasHold,
  newTaskLadder,
  pendingRecovery,
  recordMiss,
  recordRecovery,
  validateLadderConfig,
} from '../../../src/coordinator/recovery/index.js';
import type { Decision, FaultClass, LadderContext, LadderFailure, RecoveryHistory, TaskLadderState } from '../../../src/coordinator/recovery/index.js';

const healthy: LadderContext = { otherWorkersAvailable: true, workerFailuresRecent: 0, workerSuspect: false };
const empty = emptyRecoveryHistory();

function failure(failureClass: FaultClass, workerId: string, atMs: number): LadderFailure {
  return { failureClass, workerId, atMs };
}

/** Applies failures one after another; returns every decision and the final ladder. */
function climb(failures: readonly LadderFailure[], context: LadderContext | ((i: number) => LadderContext), history: RecoveryHistory = empty): { decisions: Decision[]; state: TaskLadderState } {
  let state = newTaskLadder();
  const decisions: Decision[] = [];
  failures.forEach((f, i) => {
    const decision = decide(state, f, history, typeof context === 'function' ? context(i) : context);
    decisions.push(decision);
    state = advance(state, f, decision);
  });
  return { decisions, state };
}

function history(failureClass: FaultClass, entries: readonly [level: 1 | 2 | 3 | 4, recovered: boolean, recoveryMs: number][]): RecoveryHistory {
  let h = emptyRecoveryHistory();
  for (const [level, recovered, recoveryMs] of entries) {
    h = recovered ? recordRecovery(h, { failureClass, level, recoveryMs }) : recordMiss(h, { failureClass, level });
  }
  return h;
}

describe('start level', () => {
  it('starts a retryable class at level 1 with an empty history, after a short backoff', () => {
    const decision = decide(newTaskLadder(), failure('crash', 'w1', 1_000), empty, healthy);
    expect(decision).toMatchObject({ level: 1, action: 'retry-same-worker', backoffMs: 2_000, workerId: 'w1', avoidWorkers: [] });
    expect(decision.reason).toBe(
      'first failure (crash on w1): start at level 1 retry-same-worker, the least expected time to recovery: ' +
        'level 1 80.0 s (p 0.50 from 0 recovered/0 not, mean 10.0 s) vs level 2 100.0 s (p 0.50 from 0 recovered/0 not, mean 20.0 s) vs ' +
        'level 3 360.0 s (p 0.50 from 0 recovered/0 not, mean 120.0 s); ' +
        'not candidates: level 4 (worker w1 fails no more than its peers (a fleet-wide failure is not the worker\'s fault))',
    );
  });

  it('skips ahead for classes that are not retryable on the same worker', () => {
    const lost = decide(newTaskLadder(), failure('lost-worker', 'w1', 0), empty, healthy);
    expect(lost).toMatchObject({ level: 2, action: 'move-to-other-worker', avoidWorkers: ['w1'] });
    expect(lost.reason).toContain('not candidates: level 1 (lost-worker starts at level 2 (not retryable on the same worker)), 3 (worker w1 is lost and cannot be reset)');
    expect(decide(newTaskLadder(), failure('out-of-memory', 'w1', 0), empty, healthy).level).toBe(2);
    expect(decide(newTaskLadder(), failure('missing-report', 'w1', 0), empty, healthy).level).toBe(2);
    const setup = decide(newTaskLadder(), failure('setup-failure', 'w1', 0), empty, healthy);
    expect(setup).toMatchObject({ level: 3, action: 'reset-worker', workerId: 'w1', avoidWorkers: [] });
  });

  it('does not retry on a worker that keeps failing or fails more than its peers', () => {
    const busy = decide(newTaskLadder(), failure('crash', 'w1', 0), empty, { ...healthy, workerFailuresRecent: 3 });
    expect(busy.level).toBe(2);
    expect(busy.reason).toContain('not candidates: level 1 (worker w1 has 3 recent infrastructure failures (limit 3))');
    expect(decide(newTaskLadder(), failure('crash', 'w1', 0), empty, { ...healthy, workerFailuresRecent: 2 }).level).toBe(1);
    const suspect = decide(newTaskLadder(), failure('crash', 'w1', 0), empty, { ...healthy, workerSuspect: true });
    expect(suspect.level).toBe(2);
    expect(suspect.reason).toContain('not candidates: level 1 (worker w1 fails more than its peers)');
  });

  it('computes the expected time with a Beta(1,1) prior and a miss penalty', () => {
    const none = expectedRecovery(empty, 'crash', 2);
    expect(none).toEqual({ level: 2, recoveries: 0, misses: 0, p: 0.5, ttrMs: 20_000, expectedMs: (20_000 + 0.5 * 60_000) / 0.5 });
    const h = history('crash', [[2, true, 4_000], [2, true, 6_000], [2, false, 0]]);
    const some = expectedRecovery(h, 'crash', 2);
    expect(some.p).toBe(3 / 5);
    expect(some.ttrMs).toBe((20_000 + 10_000) / 3);
    expect(some.expectedMs).toBeCloseTo((10_000 + 0.4 * 60_000) / 0.6);
    // A reset also costs the fleet the worker's time out of scheduling.
    expect(expectedRecovery(empty, 'crash', 3).expectedMs).toBe((120_000 + 0.5 * 60_000) / 0.5 + 60_000);
  });

  it('starts where the history says recovery is quickest', () => {
    // Retrying crashes on the same worker rarely helped; moving them helped quickly.
    const h = history('crash', [
      ...Array.from({ length: 10 }, () => [1, false, 0] as [1, false, number]),
      [1, true, 3_000],
      ...Array.from({ length: 8 }, () => [2, true, 5_000] as [2, true, number]),
    ]);
    const decision = decide(newTaskLadder(), failure('crash', 'w1', 0), h, healthy);
    expect(decision).toMatchObject({ level: 2, action: 'move-to-other-worker', avoidWorkers: ['w1'] });
    expect(decision.reason).toContain('start at level 2 move-to-other-worker');
    expect(decision.reason).toContain('level 2 14.1 s (p 0.90 from 8 recovered/0 not, mean 6.7 s)');
    // Another class keeps its own history.
    expect(decide(newTaskLadder(), failure('spawn-error', 'w1', 0), h, healthy).level).toBe(1);
  });

  it('can learn that a reset recovers a class best', () => {
    const h = history('delivery-failure', [
      ...Array.from({ length: 6 }, () => [1, false, 0] as [1, false, number]),
      ...Array.from({ length: 6 }, () => [2, false, 0] as [2, false, number]),
      ...Array.from({ length: 6 }, () => [3, true, 90_000] as [3, true, number]),
    ]);
    expect(decide(newTaskLadder(), failure('delivery-failure', 'w1', 0), h, healthy).level).toBe(3);
  });

  it('quarantines at once a suspect worker whose setup fails, when the history agrees', () => {
    const decision = decide(newTaskLadder(), failure('setup-failure', 'w1', 0), empty, { ...healthy, workerSuspect: true });
    // Expected: level 3 300 + 60 s vs level 4 120 + 120 s (priors plus fleet cost).
    expect(decision).toMatchObject({ level: 4, action: 'quarantine-worker', avoidWorkers: ['w1'] });
  });
});

describe('escalation', () => {
  it('climbs one level per further failure and gives up at 5, skipping quarantine when the worker is not to blame', () => {
    const { decisions, state } = climb([failure('crash', 'w1', 0), failure('crash', 'w1', 10_000), failure('crash', 'w2', 20_000), failure('crash', 'w3', 30_000)], healthy);
    expect(decisions.map((d) => d.level)).toEqual([1, 2, 3, 5]);
    expect(decisions[1]?.reason).toBe('failure 2 of the task (crash on w1) after level 1 retry-same-worker: escalate to level 2 move-to-other-worker');
    expect(decisions[1]?.avoidWorkers).toEqual(['w1']);
    expect(decisions[2]).toMatchObject({ action: 'reset-worker', workerId: 'w2', avoidWorkers: ['w1'] });
    expect(decisions[3]?.reason).toContain("skipped level 4 (worker w3 fails no more than its peers (a fleet-wide failure is not the worker's fault))");
    expect(state.steps.map((s) => s.level)).toEqual([1, 2, 3, 5]);
    expect(pendingRecovery(state)).toBeNull();
  });

  it('quarantines a suspect worker at level 4', () => {
    const { decisions } = climb([failure('crash', 'w1', 0), failure('crash', 'w1', 1), failure('crash', 'w2', 2), failure('crash', 'w3', 3)], (i) => ({ ...healthy, workerSuspect: i === 3 }));
    expect(decisions.map((d) => d.level)).toEqual([1, 2, 3, 4]);
    expect(decisions[3]).toMatchObject({ action: 'quarantine-worker', workerId: 'w3', avoidWorkers: ['w1', 'w2', 'w3'] });
  });

  it('follows the new class when the classes change, never going down', () => {
    const { decisions } = climb([failure('crash', 'w1', 0), failure('setup-failure', 'w1', 1)], healthy);
    expect(decisions.map((d) => d.level)).toEqual([1, 3]);
    expect(decisions[1]?.reason).toContain('skipped level 2 (setup-failure starts at level 3 (not retryable on the same worker))');
  });

  it('gives up with a diagnosis of classes, workers and levels', () => {
    const { decisions } = climb(
      [failure('crash', 'w1', 0), failure('lost-worker', 'w1', 1), failure('crash', 'w2', 2), failure('out-of-memory', 'w3', 3)],
      healthy,
    );
    const last = decisions.at(-1);
    expect(last).toMatchObject({ level: 5, action: 'give-up', avoidWorkers: [] });
    expect(last?.diagnosis).toBe(
      'gave up after 4 infrastructure failures: classes crash×2, out-of-memory×1, lost-worker×1; workers tried w1, w2, w3; ' +
        'levels applied 1 retry-same-worker, 2 move-to-other-worker, 3 reset-worker',
    );
    expect(last?.reason.endsWith(last.diagnosis ?? '')).toBe(true);
  });

  it('refuses to go on after giving up, or to climb down', () => {
    const { state, decisions } = climb([failure('crash', 'w1', 0), failure('crash', 'w1', 1), failure('crash', 'w2', 2), failure('crash', 'w3', 3)], healthy);
    expect(decisions.at(-1)?.level).toBe(5);
    expect(() => decide(state, failure('crash', 'w3', 4), empty, healthy)).toThrow(/already/);
    const one = climb([failure('crash', 'w1', 0)], healthy).state;
    expect(() => advance(one, failure('crash', 'w1', 1), { level: 1, action: 'retry-same-worker', reason: '', workerId: 'w1', avoidWorkers: [] })).toThrow(/only climbs/);
  });

  it('refuses a class that is not an infrastructure failure', () => {
    expect(() => decide(newTaskLadder(), failure('cancelled' as FaultClass, 'w1', 0), empty, healthy)).toThrow(/not an infrastructure failure class/);
  });
});

describe('no other worker available', () => {
  const alone: LadderContext = { ...healthy, otherWorkersAvailable: false };

  it('skips level 2: the task stays with its worker, which is reset, and then gives up', () => {
    const { decisions } = climb([failure('crash', 'w1', 0), failure('crash', 'w1', 1), failure('crash', 'w1', 2)], alone);
    expect(decisions.map((d) => d.level)).toEqual([1, 3, 5]);
    expect(decisions[1]?.reason).toBe('failure 2 of the task (crash on w1) after level 1 retry-same-worker: escalate to level 3 reset-worker; skipped level 2 (no other worker can take the task)');
    expect(decisions[1]?.avoidWorkers).toEqual([]);
    expect(decisions[2]?.reason).toContain('skipped level 4 (worker w1 fails no more than its peers');
  });

  it('does not quarantine the only worker that can run the task', () => {
    const { decisions } = climb([failure('crash', 'w1', 0), failure('crash', 'w1', 1)], { ...alone, workerSuspect: true, workerFailuresRecent: 9 });
    expect(decisions.map((d) => d.level)).toEqual([3, 5]);
    expect(decisions[0]?.reason).toContain('not candidates: level 1 (worker w1 fails more than its peers), 2 (no other worker can take the task), 4 (worker w1 is the only one');
    expect(decisions[1]?.reason).toContain('skipped level 4 (worker w1 is the only one that can take the task)');
  });

  it('moves the task of a lost worker even with nobody else to take it (the worker may come back), then gives up', () => {
    const first = decide(newTaskLadder(), failure('lost-worker', 'w1', 0), empty, alone);
    expect(first.level).toBe(2);
    expect(first.avoidWorkers).toEqual(['w1']);
    const state = advance(newTaskLadder(), failure('lost-worker', 'w1', 0), first);
    const second = decide(state, failure('lost-worker', 'w1', 10), empty, alone);
    expect(second.level).toBe(5);
    expect(second.diagnosis).toBe('gave up after 2 infrastructure failures: classes lost-worker×2; workers tried w1; levels applied 2 move-to-other-worker');
  });
});

describe('determinism and bounds', () => {
  it('gives the same decision for the same inputs and does not change them', () => {
    const h = Object.freeze(history('crash', [[1, false, 0], [2, true, 1_000]]));
    const state = Object.freeze(climb([failure('crash', 'w1', 0)], healthy).state);
    const f = Object.freeze(failure('timeout', 'w1', 5));
    const before = JSON.stringify([h, state, f]);
    const one = decide(state, f, h, healthy);
    expect(decide(state, f, h, healthy)).toEqual(one);
    expect(decide(JSON.parse(JSON.stringify(state)) as TaskLadderState, f, JSON.parse(JSON.stringify(h)) as RecoveryHistory, healthy)).toEqual(one);
    expect(JSON.stringify([h, state, f])).toBe(before);
  });

  it('keeps at most historyEntriesMax records per class, the newest', () => {
    let h = emptyRecoveryHistory();
    for (let i = 0; i < 60; i++) h = recordRecovery(h, { failureClass: 'crash', level: 1, recoveryMs: i });
    h = recordMiss(h, { failureClass: 'timeout', level: 2 });
    expect(h.byClass.crash).toHaveLength(defaultLadderConfig.historyEntriesMax);
    expect(h.byClass.crash?.[0]?.recoveryMs).toBe(10);
    expect(h.byClass.timeout).toEqual([{ level: 2, recovered: false, recoveryMs: 0 }]);
    expect(JSON.parse(JSON.stringify(h))).toEqual(h);
  });

  it('tells which level a good attempt recovers', () => {
    const { state } = climb([failure('crash', 'w1', 100), failure('crash', 'w1', 200)], healthy);
    expect(pendingRecovery(state)).toMatchObject({ level: 2, failureClass: 'crash', atMs: 200 });
    expect(pendingRecovery(newTaskLadder())).toBeNull();
  });

  it('validates its config', () => {
    expect(() => validateLadderConfig(defaultLadderConfig)).not.toThrow();
    expect(() => validateLadderConfig({ ...defaultLadderConfig, sameWorkerFailuresMax: 0 })).toThrow(RangeError);
    expect(() => validateLadderConfig({ ...defaultLadderConfig, priorRecoveryMs: { 1: 0, 2: 1, 3: 1, 4: 1 } })).toThrow(RangeError);
    expect(() => validateLadderConfig({ ...defaultLadderConfig, historyEntriesMax: 0 })).toThrow(RangeError);
    expect(() => validateLadderConfig({ ...defaultLadderConfig, levelCostMs: { 1: 0, 2: 0, 3: -1, 4: 0 } })).toThrow(RangeError);
  });
});

describe('adaptive recovery off (the fixed baseline policy)', () => {
  const fixed: LadderContext = { ...healthy, adaptive: false };

  it('retries once on the same worker, moves while the budget lasts, then gives up, whatever the history says', () => {
    const learned = history('crash', [[3, true, 100], [3, true, 100], [3, true, 100]]);
    const { decisions } = climb([1, 2, 3, 4, 5].map((i) => failure('crash', `w${i}`, i * 1000)), fixed, learned);
    expect(decisions.map((d) => d.level)).toEqual([1, 2, 2, 2, 5]);
    expect(decisions.every((d) => d.fixed === true && /adaptive recovery off/.test(d.reason))).toBe(true);
    expect(decisions.at(-1)?.diagnosis).toMatch(/crash/);
  });

  it('never resets or quarantines, even a suspect worker', () => {
    const { decisions } = climb([1, 2, 3, 4, 5].map((i) => failure('setup-failure', 'w1', i)), { ...fixed, workerSuspect: true, workerFailuresRecent: 9 });
    expect(decisions.some((d) => d.level === 3 || d.level === 4)).toBe(false);
  });

  it('retries on the same worker when no other can take the task', () => {
    const { decisions } = climb([1, 2, 3].map((i) => failure('crash', 'w1', i)), { ...fixed, otherWorkersAvailable: false });
    expect(decisions.map((d) => d.level)).toEqual([1, 1, 1]);
  });
});

describe('fleet-wide faults: holds instead of climbing', () => {
  const fleetWide: LadderContext = { ...healthy, fleetWide: true };
  const spawnFails = (n: number): LadderFailure[] => Array.from({ length: n }, (_, i) => failure('spawn-error', `w${(i % 3) + 1}`, 1_000 * (i + 1)));

  it('holds the task with doubling waits, capped, and leaves its ladder where it was', () => {
    const { decisions, state } = climb(spawnFails(8), fleetWide);
    expect(decisions.map((d) => d.hold)).toEqual(Array(8).fill(true));
    expect(decisions.map((d) => d.backoffMs)).toEqual([2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000]);
    expect(decisions.every((d) => d.level === 1 && d.avoidWorkers.length === 0)).toBe(true);
    expect(decisions[0]?.reason).toMatch(/^spawn-error on w1 during a fleet-wide fault: hold 1 of 8, run again in 2\.0 s without climbing the ladder/);
    expect(state.steps).toEqual([]);
    expect(state.holds).toBe(8);
    expect(lastWasHold(state)).toBe(true);
  });

  it('climbs as usual once the holds are spent, so the task still ends', () => {
    let { state } = climb(spawnFails(8), fleetWide);
    const climbed: Decision[] = [];
    for (const f of spawnFails(ladderStepsMax)) {
      const decision = decide(state, f, empty, fleetWide);
      climbed.push(decision);
      state = advance(state, f, decision);
      if (decision.level === 5) break;
    }
    expect(climbed.some((d) => d.hold === true)).toBe(false);
    expect(climbed.at(-1)?.level).toBe(5);
    expect(state.steps.length).toBe(climbed.length);
    expect(state.holds).toBe(8);
    expect(lastWasHold(state)).toBe(false);
  });

  it('does not hold when the fault is not fleet-wide, nor under the fixed policy', () => {
    expect(climb(spawnFails(1), healthy).decisions[0]?.hold).toBeUndefined();
    expect(climb(spawnFails(1), { ...fleetWide, adaptive: false }).decisions[0]?.hold).toBeUndefined();
  });

  it('keeps the steps taken before a hold, and counts holds after them', () => {
    const { state } = climb(spawnFails(3), (i) => (i === 0 ? healthy : fleetWide));
    expect(state.steps.map((s) => s.level)).toEqual([1]);
    expect(state.holds).toBe(2);
    expect(state.heldAtStep).toBe(1);
    expect(pendingRecovery(state)?.level).toBe(1);
  });

  it('doubles from the configured backoff: holdWaitMs', () => {
    const config = { ...defaultLadderConfig, retryBackoffMs: 500, fleetHoldMaxMs: 3_000 };
    expect([1, 2, 3, 4, 5].map((n) => holdWaitMs(n, config))).toEqual([500, 1_000, 2_000, 3_000, 3_000]);
    expect(() => validateLadderConfig({ ...defaultLadderConfig, fleetHoldsMax: -1 })).toThrow(/fleetHoldsMax must be an integer ≥ 0/);
  });
});
