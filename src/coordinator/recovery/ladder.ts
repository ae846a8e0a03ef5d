import { assert } from '../../raft/index.js';
import { faultClassDefaults, faultClasses, isFaultClass, type FaultClass, type RecoveryLevel } from './failure-classes.js';

/**
 * The five-level recovery ladder for a task whose attempt failed for an
 * infrastructure reason. Pure: the task's position on the ladder and the
 * per-class recovery history are plain data the state machine keeps; every
 * decision carries the reason it was taken (for `testudo runs show --explain`).
 *
 *   1 retry-same-worker     after a short backoff (transient faults)
 *   2 move-to-other-worker  anti-affinity with every worker already tried
 *   3 reset-worker          the worker cleans its work dir, reruns setup, restarts its executor
 *   4 quarantine-worker     its breaker is forced open, its work drained elsewhere, an alert raised
 *   5 give-up               the task ends failed-infra with a diagnosis; the run is degraded
 *
 * The first failure starts at the applicable level with the least expected
 * time to recovery for its class (see expectedRecovery); each further failure
 * of the same task moves to the next applicable level above the last one.
 */

export type RecoveryAction = 'retry-same-worker' | 'move-to-other-worker' | 'reset-worker' | 'quarantine-worker' | 'give-up';

/** Levels that can recover a task (5 gives up). */
export type RecoveringLevel = Exclude<RecoveryLevel, 5>;

export const levelActions: Readonly<Record<RecoveryLevel, RecoveryAction>> = {
  1: 'retry-same-worker',
  2: 'move-to-other-worker',
  3: 'reset-worker',
  4: 'quarantine-worker',
  5: 'give-up',
};

const recoveringLevels: readonly RecoveringLevel[] = [1, 2, 3, 4];

export interface LadderConfig {
  /** Wait before a level-1 retry on the same worker. */
  readonly retryBackoffMs: number;
  /** A worker with this many breaker-counted failures in its window is not retried on (level 1 skipped). */
  readonly sameWorkerFailuresMax: number;
  /** Recovery records kept per failure class (the oldest go first). */
  readonly historyEntriesMax: number;
  /** Prior time to recovery of each level: one pseudo-observation blended with the history. */
  readonly priorRecoveryMs: Readonly<Record<RecoveringLevel, number>>;
  /** What a level that does not recover costs on top of its own time (a wasted attempt, a later start higher up). */
  readonly missPenaltyMs: number;
  /**
   * What a level costs the fleet, added to its expected time: a reset takes
   * the worker out of scheduling, a quarantine takes it away until released.
   * Keeps the start on cheap levels unless the history shows a clear gain.
   */
  readonly levelCostMs: Readonly<Record<RecoveringLevel, number>>;
  /** Holds a task may take during fleet-wide faults before its ladder climbs again (see LadderContext.fleetWide). */
  readonly fleetHoldsMax: number;
  /** The longest wait of one hold (the waits double from retryBackoffMs). */
  readonly fleetHoldMaxMs: number;
}

export const defaultLadderConfig: LadderConfig = {
  retryBackoffMs: 2_000,
  sameWorkerFailuresMax: 3,
  historyEntriesMax: 50,
  priorRecoveryMs: { 1: 10_000, 2: 20_000, 3: 120_000, 4: 30_000 },
  missPenaltyMs: 60_000,
  levelCostMs: { 1: 0, 2: 0, 3: 60_000, 4: 120_000 },
  fleetHoldsMax: 8,
  fleetHoldMaxMs: 4_000,
};

/** A task climbs each level at most once, so its ladder holds at most this many steps. */
export const ladderStepsMax = 5;

export interface LadderFailure {
  readonly failureClass: FaultClass;
  readonly workerId: string;
  readonly atMs: number;
}

export interface LadderStep extends LadderFailure {
  readonly level: RecoveryLevel;
  readonly action: RecoveryAction;
}

/**
 * A task's position on the ladder: the steps taken so far, oldest first, and
 * the holds it took during fleet-wide faults (absent in states written before
 * holds existed: none).
 */
export interface TaskLadderState {
  readonly steps: readonly LadderStep[];
  /** Holds taken (waits during a fleet-wide fault that did not climb the ladder). */
  readonly holds?: number;
  /** steps.length when the last hold was taken. */
  readonly heldAtStep?: number;
}

/** What the caller knows about the fleet when the failure is applied. */
export interface LadderContext {
  /** Another live worker, not yet tried by this task, could run it (requirements met, breaker allows). */
  readonly otherWorkersAvailable: boolean;
  /** Breaker-counted failures in the failing worker's window. */
  readonly workerFailuresRecent: number;
  /**
   * The failing worker fails more than its peers: its breaker is not closed,
   * or its failure rate reaches its adaptive threshold. Only a suspect worker
   * is quarantined (level 4), so a fleet-wide failure never quarantines anyone.
   */
  readonly workerSuspect: boolean;
  /**
   * Adaptive recovery on (default). Off: the fixed baseline policy — level 1
   * first, then level 2 for every further failure while the budget lasts,
   * then level 5; no history, no reset, no quarantine.
   */
  readonly adaptive?: boolean;
  /**
   * Workers of the class fail all at once (a share of them failing now, see
   * fleetFailingShare): the fault is the fleet's, not the task's nor the
   * worker's, so climbing the ladder would only burn the task's budget. The
   * task waits instead (a hold), up to fleetHoldsMax times.
   */
  readonly fleetWide?: boolean;
}

export interface Decision {
  readonly level: RecoveryLevel;
  readonly action: RecoveryAction;
  /** Why this level, with the alternatives and the levels skipped. */
  readonly reason: string;
  /** Level 1: wait this long before the retry. */
  readonly backoffMs?: number;
  /** The worker the failure happened on (the one reset at level 3, quarantined at level 4). */
  readonly workerId: string;
  /** Workers the task must not run on next (anti-affinity). */
  readonly avoidWorkers: readonly string[];
  /** Level 5: classes seen, workers tried, levels applied. */
  readonly diagnosis?: string;
  /** Taken by the fixed (non-adaptive) policy, which may repeat a level. */
  readonly fixed?: true;
  /** A hold during a fleet-wide fault: wait backoffMs and run again anywhere; the ladder does not climb. */
  readonly hold?: true;
}

export interface RecoveryRecord {
  readonly level: RecoveringLevel;
  readonly recovered: boolean;
  /** From the failure that triggered the level to the task's next attempt ending without an infrastructure failure (0 for misses). */
  readonly recoveryMs: number;
}

/** Per failure class, the latest recovery records (bounded by historyEntriesMax). JSON-safe. */
export interface RecoveryHistory {
  readonly byClass: Readonly<Partial<Record<FaultClass, readonly RecoveryRecord[]>>>;
}

export interface ExpectedRecovery {
  readonly level: RecoveringLevel;
  readonly recoveries: number;
  readonly misses: number;
  /** Posterior mean success probability with a Beta(1,1) prior: (s+1)/(s+f+2). */
  readonly p: number;
  /** Mean time to recovery, the prior counted as one observation. */
  readonly ttrMs: number;
  /** (ttrMs + (1−p)·missPenaltyMs) / p + levelCostMs[level]. */
  readonly expectedMs: number;
}

export function newTaskLadder(): TaskLadderState {
  return { steps: [] };
}

export function emptyRecoveryHistory(): RecoveryHistory {
  return { byClass: {} };
}

export function validateLadderConfig(config: LadderConfig): void {
  if (!(config.retryBackoffMs >= 0)) throw new RangeError(`ladder: retryBackoffMs must be ≥ 0 (got ${config.retryBackoffMs})`);
  if (!(Number.isInteger(config.sameWorkerFailuresMax) && config.sameWorkerFailuresMax >= 1)) {
    throw new RangeError(`ladder: sameWorkerFailuresMax must be an integer ≥ 1 (got ${config.sameWorkerFailuresMax})`);
  }
  if (!(Number.isInteger(config.historyEntriesMax) && config.historyEntriesMax >= 1)) {
    throw new RangeError(`ladder: historyEntriesMax must be an integer ≥ 1 (got ${config.historyEntriesMax})`);
  }
  for (const level of recoveringLevels) {
    if (!(config.priorRecoveryMs[level] > 0)) throw new RangeError(`ladder: priorRecoveryMs[${level}] must be > 0`);
    if (!(config.levelCostMs[level] >= 0)) throw new RangeError(`ladder: levelCostMs[${level}] must be ≥ 0`);
  }
  if (!(config.missPenaltyMs >= 0)) throw new RangeError(`ladder: missPenaltyMs must be ≥ 0 (got ${config.missPenaltyMs})`);
  if (!(Number.isInteger(config.fleetHoldsMax) && config.fleetHoldsMax >= 0)) throw new RangeError(`ladder: fleetHoldsMax must be an integer ≥ 0 (got ${config.fleetHoldsMax})`);
  if (!(config.fleetHoldMaxMs >= 0)) throw new RangeError(`ladder: fleetHoldMaxMs must be ≥ 0 (got ${config.fleetHoldMaxMs})`);
}

/** The expected time to recovery of a class at a level, from the history (see ExpectedRecovery). */
export function expectedRecovery(history: RecoveryHistory, failureClass: FaultClass, level: RecoveringLevel, config: LadderConfig = defaultLadderConfig): ExpectedRecovery {
  const records = (history.byClass[failureClass] ?? []).filter((r) => r.level === level);
  const hits = records.filter((r) => r.recovered);
  const recoveries = hits.length;
  const misses = records.length - recoveries;
  const p = (recoveries + 1) / (records.length + 2);
  const ttrMs = (config.priorRecoveryMs[level] + hits.reduce((sum, r) => sum + r.recoveryMs, 0)) / (recoveries + 1);
  const expectedMs = (ttrMs + (1 - p) * config.missPenaltyMs) / p + config.levelCostMs[level];
  return { level, recoveries, misses, p, ttrMs, expectedMs };
}

/** Why a level cannot be applied to this failure, or null when it can. */
function whyNot(level: RecoveryLevel, failure: LadderFailure, context: LadderContext, config: LadderConfig): string | null {
  const info = faultClassDefaults[failure.failureClass];
  if (level < info.firstLevel) return `${failure.failureClass} starts at level ${info.firstLevel}${info.retryable ? '' : ' (not retryable on the same worker)'}`;
  switch (level) {
    case 1:
      if (context.workerSuspect) return `worker ${failure.workerId} fails more than its peers`;
      if (context.workerFailuresRecent >= config.sameWorkerFailuresMax) {
        return `worker ${failure.workerId} has ${context.workerFailuresRecent} recent infrastructure failures (limit ${config.sameWorkerFailuresMax})`;
      }
      return null;
    case 2:
      // A lost worker may come back (it is recognised by its id): moving the
      // task then means waiting for any worker, that one included, rather than
      // giving up on a one-worker fleet whose machine restarted.
      if (context.otherWorkersAvailable || failure.failureClass === 'lost-worker') return null;
      return 'no other worker can take the task';
    case 3:
      return failure.failureClass === 'lost-worker' ? `worker ${failure.workerId} is lost and cannot be reset` : null;
    case 4:
      if (!context.workerSuspect) return `worker ${failure.workerId} fails no more than its peers (a fleet-wide failure is not the worker's fault)`;
      return context.otherWorkersAvailable ? null : `worker ${failure.workerId} is the only one that can take the task`;
    case 5:
      return null;
  }
}

/**
 * The level for this failure of the task. Pure and deterministic: the same
 * state, failure, history, context and config give the same decision.
 */
export function decide(state: TaskLadderState, failure: LadderFailure, history: RecoveryHistory, context: LadderContext, config: LadderConfig = defaultLadderConfig): Decision {
  assert(isFaultClass(failure.failureClass), `the ladder got ${String(failure.failureClass)}, not an infrastructure failure class`);
  assert(state.steps.length < ladderStepsMax, `task ladder already has ${state.steps.length} steps`);
  const last = state.steps.at(-1);
  assert(last === undefined || last.level < 5, 'task ladder already gave up');
  const what = `${failure.failureClass} on ${failure.workerId}`;
  if (context.adaptive === false) return fixedPolicy(state, failure, what, context, config);
  const holds = state.holds ?? 0;
  if (context.fleetWide === true && holds < config.fleetHoldsMax) {
    const backoffMs = holdWaitMs(holds + 1, config);
    const reason = `${what} during a fleet-wide fault: hold ${holds + 1} of ${config.fleetHoldsMax}, run again in ${seconds(backoffMs)} without climbing the ladder (the fault is not the task's nor this worker's)`;
    return { level: 1, action: 'retry-same-worker', reason, backoffMs, workerId: failure.workerId, avoidWorkers: [], hold: true };
  }
  const floor: RecoveryLevel = last === undefined ? 1 : nextLevel(last.level);
  const skipped: { readonly level: RecoveryLevel; readonly why: string }[] = [];
  const applicable: RecoveryLevel[] = [];
  for (const level of [1, 2, 3, 4, 5] as const) {
    if (level < floor) continue;
    const why = whyNot(level, failure, context, config);
    if (why === null) applicable.push(level);
    else skipped.push({ level, why });
  }

  let level: RecoveryLevel;
  let choice: string;
  if (last === undefined) {
    const candidates = applicable.filter((l): l is RecoveringLevel => l !== 5).map((l) => expectedRecovery(history, failure.failureClass, l, config));
    const best = candidates.reduce<ExpectedRecovery | undefined>((b, c) => (b === undefined || c.expectedMs < b.expectedMs ? c : b), undefined);
    level = best?.level ?? 5;
    choice =
      best === undefined
        ? `first failure (${what}): no level can recover it`
        : `first failure (${what}): start at level ${level} ${levelActions[level]}, the least expected time to recovery: ${candidates.map(expectedText).join(' vs ')}`;
  } else {
    level = applicable[0] ?? 5;
    choice = `failure ${state.steps.length + 1} of the task (${what}) after level ${last.level} ${last.action}: escalate to level ${level} ${levelActions[level]}`;
  }
  // The first failure names every level that was no candidate; an escalation only the levels it jumped over.
  const passed = last === undefined ? skipped : skipped.filter((s) => s.level < level);
  const label = last === undefined ? 'not candidates: level' : 'skipped level';
  const skippedText = passed.length === 0 ? '' : `; ${label} ${passed.map((s) => `${s.level} (${s.why})`).join(', ')}`;
  return decisionAt(level, state, failure, `${choice}${skippedText}`, config);
}

/** The wait of the n-th hold (1 = the first): retryBackoffMs · 2^(n−1), capped at fleetHoldMaxMs. */
export function holdWaitMs(n: number, config: LadderConfig): number {
  assert(n >= 1, `hold number ${n}`);
  return Math.min(config.fleetHoldMaxMs, config.retryBackoffMs * 2 ** Math.min(n - 1, 40));
}

/** The task's last decision was a hold (so its next failure is no miss of a ladder level). */
export function lastWasHold(state: TaskLadderState): boolean {
  return (state.holds ?? 0) > 0 && state.heldAtStep === state.steps.length;
}

/** The non-adaptive baseline: retry on the same worker once, then move while the step budget lasts, then give up. */
function fixedPolicy(state: TaskLadderState, failure: LadderFailure, what: string, context: LadderContext, config: LadderConfig): Decision {
  const n = state.steps.length;
  const level: RecoveryLevel = n === 0 ? 1 : n < ladderStepsMax - 1 && context.otherWorkersAvailable ? 2 : n < ladderStepsMax - 1 ? 1 : 5;
  const reason = `adaptive recovery off: fixed policy, failure ${n + 1} of the task (${what}) → level ${level} ${levelActions[level]}`;
  return { ...decisionAt(level, state, failure, reason, config), fixed: true };
}

function nextLevel(level: RecoveryLevel): RecoveryLevel {
  return level === 5 ? 5 : ((level + 1) as RecoveryLevel);
}

function expectedText(e: ExpectedRecovery): string {
  return `level ${e.level} ${seconds(e.expectedMs)} (p ${e.p.toFixed(2)} from ${e.recoveries} recovered/${e.misses} not, mean ${seconds(e.ttrMs)})`;
}

function decisionAt(level: RecoveryLevel, state: TaskLadderState, failure: LadderFailure, reason: string, config: LadderConfig): Decision {
  const tried = workersTried(state, failure);
  const action = levelActions[level];
  const base = { level, action, reason, workerId: failure.workerId };
  switch (level) {
    case 1:
      return { ...base, avoidWorkers: [], backoffMs: config.retryBackoffMs };
    case 2:
    case 4:
      return { ...base, avoidWorkers: tried };
    case 3:
      // The reset worker comes back clean, so it may take the task again.
      return { ...base, avoidWorkers: tried.filter((w) => w !== failure.workerId) };
    case 5: {
      const diagnosis = diagnose(state, failure);
      return { ...base, reason: `${reason}; ${diagnosis}`, avoidWorkers: [], diagnosis };
    }
  }
}

function workersTried(state: TaskLadderState, failure: LadderFailure): string[] {
  const tried: string[] = [];
  for (const w of [...state.steps.map((s) => s.workerId), failure.workerId]) if (!tried.includes(w)) tried.push(w);
  return tried;
}

/** Level 5's diagnosis: the classes seen (with counts), the workers tried, the levels applied. */
export function diagnose(state: TaskLadderState, failure: LadderFailure): string {
  const failures = [...state.steps, failure];
  const classes = faultClasses
    .map((c) => [c, failures.filter((f) => f.failureClass === c).length] as const)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${c}×${n}`);
  const levels = state.steps.map((s) => `${s.level} ${s.action}`);
  return (
    `gave up after ${failures.length} infrastructure failure${failures.length === 1 ? '' : 's'}: ` +
    `classes ${classes.join(', ')}; workers tried ${workersTried(state, failure).join(', ')}; ` +
    `levels applied ${levels.length === 0 ? 'none' : levels.join(', ')}`
  );
}

/** The task's ladder after the decision was carried out. */
export function advance(state: TaskLadderState, failure: LadderFailure, decision: Decision): TaskLadderState {
  if (decision.hold === true) return { steps: state.steps, holds: (state.holds ?? 0) + 1, heldAtStep: state.steps.length };
  const last = state.steps.at(-1);
  assert(last === undefined || decision.level > last.level || (decision.fixed === true && last.level < 5), `ladder step ${decision.level} after ${last?.level ?? 0}: the ladder only climbs`);
  const steps = [...state.steps, { ...failure, level: decision.level, action: decision.action }];
  assert(steps.length <= ladderStepsMax, `task ladder over ${ladderStepsMax} steps`);
  return state.holds === undefined ? { steps } : { steps, holds: state.holds, heldAtStep: state.heldAtStep ?? 0 };
}

/** The level the task's next good attempt recovers (its last step), or null when none or it gave up. */
export function pendingRecovery(state: TaskLadderState): (LadderStep & { readonly level: RecoveringLevel }) | null {
  const last = state.steps.at(-1);
  if (last === undefined || last.level === 5) return null;
  return { ...last, level: last.level };
}

/** Records that a level recovered a class in recoveryMs. */
export function recordRecovery(
  history: RecoveryHistory,
  recovery: { readonly failureClass: FaultClass; readonly level: RecoveringLevel; readonly recoveryMs: number },
  config: LadderConfig = defaultLadderConfig,
): RecoveryHistory {
  assert(recovery.recoveryMs >= 0, `negative recovery time ${recovery.recoveryMs}`);
  return append(history, recovery.failureClass, { level: recovery.level, recovered: true, recoveryMs: recovery.recoveryMs }, config);
}

/** Records that a level did not recover a class (the task failed again after it). */
export function recordMiss(history: RecoveryHistory, miss: { readonly failureClass: FaultClass; readonly level: RecoveringLevel }, config: LadderConfig = defaultLadderConfig): RecoveryHistory {
  return append(history, miss.failureClass, { level: miss.level, recovered: false, recoveryMs: 0 }, config);
}

function append(history: RecoveryHistory, failureClass: FaultClass, record: RecoveryRecord, config: LadderConfig): RecoveryHistory {
  assert(isFaultClass(failureClass), `recovery history for ${String(failureClass)}`);
  const records = [...(history.byClass[failureClass] ?? []), record].slice(-config.historyEntriesMax);
  return { byClass: { ...history.byClass, [failureClass]: records } };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
