import { assert } from '../../common/assert.js';
import { spawnRetriesMax } from '../../model/index.js';
import { defaultAdaptiveThresholdConfig, fmt, validateAdaptiveThresholdConfig, type AdaptiveThresholdConfig } from './adaptive-threshold.js';
import { feedsBreaker, type FailureClass } from './failure-classes.js';
import { defaultLadderConfig, validateLadderConfig, type LadderConfig } from './ladder.js';

/**
 * A per-worker circuit breaker as plain data, changed only by the pure
 * functions below. Every time is passed in (the command's `atMs` stamp), so
 * the replicated state machine can call them from apply and keep the breaker
 * in its snapshot. Nothing here reads a clock or schedules a timer: the
 * open → half-open move happens when the caller asks (`maybeHalfOpen`), for
 * example when the leader plans assignments.
 *
 *            trip (rate ≥ threshold)            wait elapsed (maybeHalfOpen)
 *   closed ─────────────────────────► open ─────────────────────────► half-open
 *     ▲                                ▲ ◄──── probe failed or slow ───────┘ │
 *     └──────────── halfOpenProbes probes succeeded ────────────────────────┘
 *   any state ── forceOpen ──► forced-open ── release ──► closed
 *   any state ── disable ──► disabled ── enable ──► closed
 */

export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled';

export type BreakerWindow = { readonly kind: 'count'; readonly size: number } | { readonly kind: 'time'; readonly windowMs: number };

/**
 * The cluster's recovery settings, replicated (`set-breaker-config`, the CLI's
 * `testudo workers breaker-config`): the breaker's, and the few numbers of the
 * ladder and the adaptive threshold an operator may need to tune.
 */
export interface BreakerConfig {
  /** The sliding window the rates are computed over. */
  readonly window: BreakerWindow;
  /** Calls the window must hold before the breaker may trip. */
  readonly minimumCalls: number;
  /** The static failure-rate threshold (0..1); an adaptive threshold passed to recordOutcome overrides it. */
  readonly failureRateThreshold: number;
  /** A call at least this long is slow. */
  readonly slowCallDurationMs: number;
  /** Trip when this share of the window's calls is slow (0..1). */
  readonly slowCallRateThreshold: number;
  /** First open wait; doubles per consecutive re-open (short: a worker whose fault passed is back within seconds). */
  readonly openBaseMs: number;
  /** Cap of the open wait. */
  readonly openMaxMs: number;
  /** Probe tasks half-open lets through; all must succeed to close. */
  readonly halfOpenProbes: number;
  /** How long a forced-open (quarantined) worker waits before a health probe may release it. */
  readonly quarantineCooldownMs: number;
  /** A breaker that opens this many times in a row (its half-open probes failing) is quarantined (forced open). */
  readonly quarantineAfterOpens: number;
  /**
   * The ejection cap: the most of a capability class's slots that open
   * breakers may take out of service (0..1). One worker of a class with
   * others may always be ejected; past the cap, a worker whose breaker opens
   * stays in service at a lower weight (one attempt at a time) instead.
   * Quarantine (forced open) is never capped, but its slots count.
   */
  readonly maxEjectedShare: number;
  /**
   * Outlier weighting, short of a trip: a closed worker with at least two
   * failures in its window whose failure rate is at least this much above its
   * peers' median runs one attempt at a time (0..1; 0, the default, turns it
   * off: on one worker failing 30% of its spawns it measured no gain,
   * docs/recovery.md "Outlier weighting").
   */
  readonly outlierMargin: number;
  /** Ladder: wait before a level-1 retry on the same worker (the first fleet-wide hold waits as long, doubling after). */
  readonly retryBackoffMs: number;
  /** Ladder: a worker with this many breaker-counted failures in its window is not retried on. */
  readonly sameWorkerFailuresMax: number;
  /** Ladder: what a level that does not recover costs on top of its own time. */
  readonly missPenaltyMs: number;
  /**
   * Ladder: a failure during a fleet-wide fault (see fleetFailingShare) holds
   * the task (it waits and runs again, its ladder not climbed) up to this many
   * times; then the ladder climbs as usual, so every task still ends.
   */
  readonly fleetHoldsMax: number;
  /** Ladder: the longest wait of one fleet-wide hold. */
  readonly fleetHoldMaxMs: number;
  /** A fault is fleet-wide when at least this share (and two) of a class's active workers are failing now. */
  readonly fleetFailingShare: number;
  /**
   * Pacing: a worker failing now (its last calls all failed) starts one
   * attempt at a time, at most one per this many ms, until an attempt
   * succeeds. Failures that come back at once (a spawn that cannot start)
   * would otherwise burn through the queue in a second; 0 turns pacing off.
   */
  readonly failingPaceMs: number;
  /** Adaptive threshold: multiples of the peers' spread above their baseline that count as abnormal. */
  readonly thresholdK: number;
  /** Adaptive threshold: a worker must fail at least this much more often than its peers. */
  readonly thresholdGuardMargin: number;
  /**
   * Circuit breakers and adaptive recovery on (the default). Off, breakers
   * record calls but never trip, and a failed attempt follows a fixed policy
   * (retry once on the same worker, then move, up to the ladder's budget,
   * then give up) with no reset and no quarantine: the baseline
   * `testudo chaos bench` compares against.
   */
  readonly adaptiveRecovery: boolean;
  /**
   * Prefetch: a worker whose breaker is closed and that is not paced may hold
   * ceil(slots × this) committed attempts beyond its slots, started by the
   * worker itself when a slot frees (docs/orchestrator.md, "Prefetch"); 0 turns it off.
   */
  readonly prefetchPerSlot: number;
  /**
   * Hedging at the tail (docs/recovery.md, "Hedging at the tail"): with
   * nothing left in the queue, a task whose one running attempt has run
   * max(this × its expected duration, expected + hedgeMinMs) gets a second
   * attempt on an idle healthy worker; the first verdict wins and the other
   * attempt is cancelled. Only with adaptive recovery on and a timing history
   * for the task; 0 turns it off.
   */
  readonly hedgeAfterFactor: number;
  /** Hedging: the least time a straggler runs beyond its expected duration before it is hedged. */
  readonly hedgeMinMs: number;
  /**
   * Slow workers (docs/recovery.md, "Slow workers"): a closed worker whose
   * recent attempts took at least this many times as long, against their
   * expected durations, as its peers' is slow. It keeps its slots but gets
   * no prefetch, no task at a run's tail while faster slots will free in
   * time, and its attempts there are hedged on a faster worker. 0 (the
   * default) turns it off: at 2 it measured no gain on the chaos matrix's
   * slow workers (docs/recovery.md).
   */
  readonly slowPaceFactor: number;
  /**
   * Ladder level 1 in place (docs/recovery.md, "Spawn retries in place"): a
   * worker whose command could not be started (fork or exec failed, nothing
   * ran) tries to start it again up to this many times within the same
   * attempt, after 100 ms, then 200 ms, …, before it reports a spawn error.
   * Only with adaptive recovery on; 0 turns it off.
   */
  readonly spawnRetries: number;
}

/** The largest prefetchPerSlot accepted (a worker holds at most slots × (1 + this) attempts). */
export const prefetchPerSlotMax = 4;
/** The largest hedgeAfterFactor accepted; below 1 a task would be hedged before it is expected to end. */
export const hedgeAfterFactorMax = 100;
/** The least slowPaceFactor accepted (besides 0, off): below it the spread of a healthy fleet's paces would mark workers slow. */
export const slowPaceFactorMin = 1.2;
/** The largest slowPaceFactor accepted. */
export const slowPaceFactorMax = 100;

export const defaultBreakerConfig: BreakerConfig = {
  window: { kind: 'count', size: 20 },
  minimumCalls: 5,
  failureRateThreshold: 0.5,
  slowCallDurationMs: 1_800_000,
  slowCallRateThreshold: 0.8,
  openBaseMs: 2_000,
  openMaxMs: 120_000,
  halfOpenProbes: 2,
  quarantineCooldownMs: 900_000,
  quarantineAfterOpens: 6,
  maxEjectedShare: 0.25,
  outlierMargin: 0,
  retryBackoffMs: defaultLadderConfig.retryBackoffMs,
  sameWorkerFailuresMax: defaultLadderConfig.sameWorkerFailuresMax,
  missPenaltyMs: defaultLadderConfig.missPenaltyMs,
  fleetHoldsMax: defaultLadderConfig.fleetHoldsMax,
  fleetHoldMaxMs: defaultLadderConfig.fleetHoldMaxMs,
  fleetFailingShare: 0.5,
  failingPaceMs: 1_000,
  thresholdK: defaultAdaptiveThresholdConfig.k,
  thresholdGuardMargin: defaultAdaptiveThresholdConfig.guardMargin,
  adaptiveRecovery: true,
  prefetchPerSlot: 0.5,
  hedgeAfterFactor: 2,
  hedgeMinMs: 1_000,
  slowPaceFactor: 0,
  spawnRetries: 2,
};

/** A call's pace: duration ÷ expected, to 3 decimals (the window is replicated JSON: short and exact on every replica). */
export function paceOfCall(durationMs: number, expectedMs: number): number {
  assert(expectedMs > 0, `pace against an expected duration of ${expectedMs} ms`);
  return Math.round((durationMs / expectedMs) * 1000) / 1000;
}

/** The spawn retries in place an attempt may make under these settings: none with adaptive recovery off (the fixed policy's baseline). */
export function spawnRetriesOf(config: BreakerConfig): number {
  return config.adaptiveRecovery ? config.spawnRetries : 0;
}

/** Calls in a row that must have failed for a worker to count as failing now (fleet-wide fault detection). */
export const failingNowCalls = 3;

/** The ladder settings in force under these recovery settings. */
export function ladderConfigOf(config: BreakerConfig): LadderConfig {
  const { retryBackoffMs, sameWorkerFailuresMax, missPenaltyMs, fleetHoldsMax, fleetHoldMaxMs } = config;
  return { ...defaultLadderConfig, retryBackoffMs, sameWorkerFailuresMax, missPenaltyMs, fleetHoldsMax, fleetHoldMaxMs };
}

/** The adaptive threshold's settings in force (its minimumCalls is the breaker's). */
export function thresholdConfigOf(config: BreakerConfig): AdaptiveThresholdConfig {
  return { ...defaultAdaptiveThresholdConfig, k: config.thresholdK, guardMargin: config.thresholdGuardMargin, minimumCalls: config.minimumCalls };
}

/**
 * Pacing (see failingPaceMs): how many more attempts a worker with `running`
 * attempts may start at atMs. No limit (Infinity) unless adaptive recovery
 * and pacing are on, the breaker is not disabled, and the worker is failing
 * now: then one when nothing runs there and failingPaceMs has passed since
 * its last failure, else none. A last failure that was an attempt lost with
 * its worker is no reason to pace (BreakerCall.lost).
 */
export function paceSlots(breaker: Breaker, atMs: number, running: number, config: BreakerConfig): number {
  if (!config.adaptiveRecovery || config.failingPaceMs === 0 || breaker.state === 'disabled' || !failingNow(breaker)) return Number.POSITIVE_INFINITY;
  const last = breaker.calls.at(-1);
  assert(last !== undefined, 'a failing worker without calls');
  // Attempts lost with a crashed worker are one event, answered by tripOnCrash: no pacing on top.
  if (last.lost === true) return Number.POSITIVE_INFINITY;
  return running === 0 && atMs >= last.atMs + config.failingPaceMs ? 1 : 0;
}

/** The worker's last failingNowCalls calls all failed. */
export function failingNow(breaker: Breaker): boolean {
  const calls = breaker.calls;
  if (calls.length < failingNowCalls) return false;
  for (let i = calls.length - failingNowCalls; i < calls.length; i++) if (!calls[i]!.failed) return false;
  return true;
}

/** Largest count window, and the most calls a time window keeps (the oldest go first). */
export const windowCallsMax = 1_000;
/** Longest reason text kept in a breaker or transition. */
export const reasonCharsMax = 500;

/** One attempt in the window: did it count as a failure, was it slow. */
export interface BreakerCall {
  readonly atMs: number;
  readonly failed: boolean;
  readonly slow: boolean;
  /** An attempt that ran its tests: its duration ÷ the task's expected duration (slowness.ts); absent otherwise. */
  readonly pace?: number;
  /**
   * Lost with its worker (class lost-worker: the process died, or its
   * session ran out); absent otherwise. A crash loses every attempt in
   * flight at once: tripOnCrash answers it, and pacing, which is for
   * failures that come back one by one in milliseconds, does not.
   */
  readonly lost?: true;
}

export interface Breaker {
  readonly state: BreakerState;
  /** When the breaker entered its state. */
  readonly sinceMs: number;
  /** Why it is in its state (the last transition's reason). */
  readonly reason: string;
  /** The window, oldest first (cleared when the breaker closes). */
  readonly calls: readonly BreakerCall[];
  /** Consecutive opens since the breaker last closed; the open wait grows with it. */
  readonly opens: number;
  /** While open: when half-open may begin. */
  readonly openUntilMs: number;
  /** While half-open: probes that succeeded. */
  readonly probeSuccesses: number;
}

export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly atMs: number;
  readonly reason: string;
}

/** What an attempt did, as the breaker sees it. */
export interface BreakerOutcome {
  readonly atMs: number;
  /** The attempt ended without a failure (passed). */
  readonly ok: boolean;
  readonly durationMs: number;
  /** The task's expected duration, when the attempt ran its tests (ok): the call then records its pace. */
  readonly expectedMs?: number;
  /** Required when !ok; 'test-failure' and classes that do not feed the breaker count as successes. */
  readonly failureClass?: FailureClass;
}

export interface BreakerStep {
  readonly breaker: Breaker;
  readonly transition: BreakerTransition | null;
}

/** The failure-rate threshold to apply, e.g. an adaptiveThreshold() decision. */
export interface ThresholdInput {
  readonly threshold: number;
  readonly reason: string;
}

export interface WindowStats {
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  readonly failureRate: number;
  readonly slowCallRate: number;
}

export function validateBreakerConfig(config: BreakerConfig): void {
  const w = config.window;
  if (w.kind === 'count' && !(Number.isInteger(w.size) && w.size >= 1 && w.size <= windowCallsMax)) {
    throw new RangeError(`breaker: count window size must be an integer in 1..${windowCallsMax} (got ${w.size})`);
  }
  if (w.kind === 'time' && !(w.windowMs > 0)) throw new RangeError(`breaker: time window must be > 0 ms (got ${w.windowMs})`);
  if (!(Number.isInteger(config.minimumCalls) && config.minimumCalls >= 1)) throw new RangeError(`breaker: minimumCalls must be an integer ≥ 1 (got ${config.minimumCalls})`);
  if (w.kind === 'count' && config.minimumCalls > w.size) throw new RangeError(`breaker: minimumCalls ${config.minimumCalls} exceeds the window size ${w.size}`);
  for (const [name, rate] of [['failureRateThreshold', config.failureRateThreshold], ['slowCallRateThreshold', config.slowCallRateThreshold]] as const) {
    if (!(rate > 0 && rate <= 1)) throw new RangeError(`breaker: ${name} must be in (0, 1] (got ${rate})`);
  }
  if (!(config.slowCallDurationMs > 0)) throw new RangeError(`breaker: slowCallDurationMs must be > 0 (got ${config.slowCallDurationMs})`);
  if (!(config.openBaseMs > 0 && config.openBaseMs <= config.openMaxMs)) {
    throw new RangeError(`breaker: need 0 < openBaseMs ≤ openMaxMs (got ${config.openBaseMs}, ${config.openMaxMs})`);
  }
  if (!(Number.isInteger(config.halfOpenProbes) && config.halfOpenProbes >= 1)) throw new RangeError(`breaker: halfOpenProbes must be an integer ≥ 1 (got ${config.halfOpenProbes})`);
  if (!(config.quarantineCooldownMs >= 0)) throw new RangeError(`breaker: quarantineCooldownMs must be ≥ 0 (got ${config.quarantineCooldownMs})`);
  if (!(Number.isInteger(config.quarantineAfterOpens) && config.quarantineAfterOpens >= 1)) {
    throw new RangeError(`breaker: quarantineAfterOpens must be an integer ≥ 1 (got ${config.quarantineAfterOpens})`);
  }
  if (!(config.maxEjectedShare >= 0 && config.maxEjectedShare <= 1)) throw new RangeError(`breaker: maxEjectedShare must be in [0, 1] (got ${config.maxEjectedShare})`);
  if (!(config.outlierMargin >= 0 && config.outlierMargin <= 1)) throw new RangeError(`breaker: outlierMargin must be in [0, 1] (got ${config.outlierMargin})`);
  if (!(config.fleetFailingShare > 0 && config.fleetFailingShare <= 1)) throw new RangeError(`breaker: fleetFailingShare must be in (0, 1] (got ${config.fleetFailingShare})`);
  if (!(config.failingPaceMs >= 0)) throw new RangeError(`breaker: failingPaceMs must be ≥ 0 (got ${config.failingPaceMs})`);
  validateLadderConfig(ladderConfigOf(config));
  validateAdaptiveThresholdConfig(thresholdConfigOf(config));
  if (!(config.prefetchPerSlot >= 0 && config.prefetchPerSlot <= prefetchPerSlotMax)) {
    throw new RangeError(`breaker: prefetchPerSlot must be in [0, ${prefetchPerSlotMax}] (got ${config.prefetchPerSlot})`);
  }
  if (!(config.hedgeAfterFactor === 0 || (config.hedgeAfterFactor >= 1 && config.hedgeAfterFactor <= hedgeAfterFactorMax))) {
    throw new RangeError(`breaker: hedgeAfterFactor must be 0 (off) or in [1, ${hedgeAfterFactorMax}] (got ${config.hedgeAfterFactor})`);
  }
  if (!(config.hedgeMinMs >= 0 && Number.isFinite(config.hedgeMinMs))) throw new RangeError(`breaker: hedgeMinMs must be ≥ 0 (got ${config.hedgeMinMs})`);
  if (!(config.slowPaceFactor === 0 || (config.slowPaceFactor >= slowPaceFactorMin && config.slowPaceFactor <= slowPaceFactorMax))) {
    throw new RangeError(`breaker: slowPaceFactor must be 0 (off) or in [${slowPaceFactorMin}, ${slowPaceFactorMax}] (got ${config.slowPaceFactor})`);
  }
  if (!(Number.isInteger(config.spawnRetries) && config.spawnRetries >= 0 && config.spawnRetries <= spawnRetriesMax)) {
    throw new RangeError(`breaker: spawnRetries must be an integer in 0..${spawnRetriesMax} (got ${config.spawnRetries})`);
  }
  if (typeof config.adaptiveRecovery !== 'boolean') throw new RangeError(`breaker: adaptiveRecovery must be true or false (got ${String(config.adaptiveRecovery)})`);
}

export function newBreaker(atMs: number): Breaker {
  return { state: 'closed', sinceMs: atMs, reason: 'new worker', calls: [], opens: 0, openUntilMs: 0, probeSuccesses: 0 };
}

/** The open wait after `opens` consecutive opens (1 = the first): openBaseMs · 2^(opens−1), capped. */
export function openWaitMs(opens: number, config: BreakerConfig): number {
  assert(opens >= 1, `open wait of ${opens} opens`);
  // 2^40 · any sane base is far beyond any cap; stops the power from overflowing.
  return Math.min(config.openMaxMs, config.openBaseMs * 2 ** Math.min(opens - 1, 40));
}

/** The calls still in the window at atMs. */
export function windowCalls(calls: readonly BreakerCall[], atMs: number, config: BreakerConfig): readonly BreakerCall[] {
  const w = config.window;
  const kept = w.kind === 'count' ? calls.slice(-w.size) : calls.filter((c) => c.atMs > atMs - w.windowMs);
  return kept.length > windowCallsMax ? kept.slice(-windowCallsMax) : kept;
}

export function windowStats(breaker: Breaker, atMs: number, config: BreakerConfig): WindowStats {
  const calls = windowCalls(breaker.calls, atMs, config);
  const failures = calls.filter((c) => c.failed).length;
  const slowCalls = calls.filter((c) => c.slow).length;
  const n = calls.length;
  return { calls: n, failures, slowCalls, failureRate: n === 0 ? 0 : failures / n, slowCallRate: n === 0 ? 0 : slowCalls / n };
}

/**
 * Records an attempt's outcome and makes the transition it causes: closed
 * trips to open; half-open closes after halfOpenProbes successes or re-opens
 * on a failed or slow probe. Open, forced-open and disabled breakers record
 * the call (the statistics stay honest) but do not move. The threshold may be
 * given lazily; it is then computed only when the window holds a failure.
 */
export function recordOutcome(
  breaker: Breaker,
  outcome: BreakerOutcome,
  config: BreakerConfig,
  threshold?: ThresholdInput | (() => ThresholdInput),
): BreakerStep {
  assert(outcome.ok === (outcome.failureClass === undefined), `breaker outcome ok=${outcome.ok} with failure class ${outcome.failureClass ?? 'none'}`);
  assert(outcome.durationMs >= 0, `breaker outcome with negative duration ${outcome.durationMs}`);
  const call: BreakerCall = {
    atMs: outcome.atMs,
    failed: outcome.failureClass !== undefined && feedsBreaker(outcome.failureClass),
    slow: outcome.durationMs >= config.slowCallDurationMs,
    ...(outcome.ok && outcome.expectedMs !== undefined && outcome.expectedMs > 0 ? { pace: paceOfCall(outcome.durationMs, outcome.expectedMs) } : {}),
    ...(outcome.failureClass === 'lost-worker' ? { lost: true as const } : {}),
  };
  const calls = windowCalls([...breaker.calls, call], outcome.atMs, config);
  const recorded: Breaker = { ...breaker, calls };

  if (breaker.state === 'half-open') {
    if (call.failed || call.slow) {
      const why = call.failed ? `half-open probe failed (${outcome.failureClass ?? ''})` : `half-open probe was slow (${outcome.durationMs} ms ≥ ${config.slowCallDurationMs} ms)`;
      return open(recorded, outcome.atMs, why, config);
    }
    const probeSuccesses = breaker.probeSuccesses + 1;
    if (probeSuccesses < config.halfOpenProbes) return { breaker: { ...recorded, probeSuccesses }, transition: null };
    return move(recorded, 'closed', outcome.atMs, `${probeSuccesses} half-open probes succeeded`, { calls: [], opens: 0, openUntilMs: 0, probeSuccesses: 0 });
  }
  if (breaker.state !== 'closed' || !config.adaptiveRecovery) return { breaker: recorded, transition: null };

  const stats = windowStats(recorded, outcome.atMs, config);
  if (stats.calls < config.minimumCalls) return { breaker: recorded, transition: null };
  const span = windowText(stats.calls, config);
  // A window with no failures cannot trip on failure rate, so a lazy threshold
  // (the adaptive one is a pass over the worker's peers) is not computed then.
  const limit = stats.failures === 0 ? null : typeof threshold === 'function' ? threshold() : (threshold ?? { threshold: config.failureRateThreshold, reason: 'static threshold' });
  if (limit !== null && stats.failureRate >= limit.threshold) {
    return open(recorded, outcome.atMs, `failure rate ${fmt(stats.failureRate)} over ${span} reaches ${fmt(limit.threshold)} (${limit.reason})`, config);
  }
  if (stats.slowCallRate >= config.slowCallRateThreshold) {
    return open(recorded, outcome.atMs, `slow-call rate ${fmt(stats.slowCallRate)} over ${span} reaches ${fmt(config.slowCallRateThreshold)} (calls ≥ ${config.slowCallDurationMs} ms)`, config);
  }
  return { breaker: recorded, transition: null };
}

/**
 * A worker process died (a new process registered under its id and named the
 * attempts it died with, or found its lock left behind). One crash is
 * evidence enough, whatever the window says: a worker that crashed may crash
 * again on its next attempts. The crash is only ever seen when the new
 * process registers, so the worker is back: a closed breaker opens with no
 * wait (`opens` 1), and turns half-open at the leader's next look, so the
 * worker runs probes instead of idling a wait out; a probe that dies with
 * the process re-opens it for openBaseMs × 2, and so on. Half-open: a crash
 * while probing re-opens for the next, longer wait. Open: the same wait starts over
 * from atMs, since a worker that crashed again while out has shown nothing
 * yet (no transition, and `opens` is unchanged: only failed probes count
 * towards quarantine, so a crash loop of seconds cannot end in one).
 * Adaptive recovery off,
 * quarantined or disabled: no change; recordOutcome has counted any lost
 * attempts either way.
 */
export function tripOnCrash(breaker: Breaker, atMs: number, why: string, config: BreakerConfig): BreakerStep {
  if (!config.adaptiveRecovery) return { breaker, transition: null };
  if (breaker.state === 'closed') {
    const opens = breaker.opens + 1;
    return move(breaker, 'open', atMs, `${why}; the worker is back, so probing at once (open #${opens})`, { opens, openUntilMs: atMs, probeSuccesses: 0 });
  }
  if (breaker.state === 'half-open') return open(breaker, atMs, why, config);
  if (breaker.state !== 'open') return { breaker, transition: null };
  const waitMs = openWaitMs(Math.max(1, breaker.opens), config);
  const reason = bounded(`${why} while open; open for ${waitMs} ms from then (open #${breaker.opens})`);
  return { breaker: { ...breaker, openUntilMs: Math.max(breaker.openUntilMs, atMs + waitMs), reason }, transition: null };
}

/** open → half-open once the open wait has elapsed; otherwise no change. */
export function maybeHalfOpen(breaker: Breaker, atMs: number): BreakerStep {
  if (breaker.state !== 'open' || atMs < breaker.openUntilMs) return { breaker, transition: null };
  return move(breaker, 'half-open', atMs, `open wait ended at ${breaker.openUntilMs} (open #${breaker.opens}); letting probes through`, { probeSuccesses: 0 });
}

/** Probe attempts a half-open breaker lets start beside the `runningProbes` it has let through. */
export function probesLeft(breaker: Breaker, runningProbes: number, config: BreakerConfig): number {
  return config.halfOpenProbes - breaker.probeSuccesses - runningProbes;
}

/**
 * May the worker get a task now? Open and forced-open: no (call maybeHalfOpen
 * first: leaving open is a replicated transition). Half-open: only while
 * running probes plus succeeded probes stay below halfOpenProbes. `_atMs`
 * is part of the contract for time-based rules; none applies today.
 */
export function allowsAssignment(breaker: Breaker, _atMs: number, runningProbes: number, config: BreakerConfig): boolean {
  assert(runningProbes >= 0, `negative running probes ${runningProbes}`);
  switch (breaker.state) {
    case 'closed':
    case 'disabled':
      return true;
    case 'half-open':
      return probesLeft(breaker, runningProbes, config) > 0;
    case 'open':
    case 'forced-open':
      return false;
  }
}

/** Quarantine: forced-open from any state until release; outcomes no longer move it. */
export function forceOpen(breaker: Breaker, atMs: number, reason: string): BreakerStep {
  if (breaker.state === 'forced-open') return { breaker, transition: null };
  return move(breaker, 'forced-open', atMs, reason, { probeSuccesses: 0, openUntilMs: 0 });
}

/**
 * An operator's release: closed with an empty window, from quarantine
 * (forced-open), open or half-open alike. A closed or disabled breaker is
 * left as it is.
 */
export function release(breaker: Breaker, atMs: number, reason: string): BreakerStep {
  if (breaker.state === 'closed' || breaker.state === 'disabled') return { breaker, transition: null };
  return move(breaker, 'closed', atMs, reason, { calls: [], opens: 0, openUntilMs: 0, probeSuccesses: 0 });
}

/** True when a quarantined worker has waited the cool-down and a health probe may release it. */
export function quarantineCooldownElapsed(breaker: Breaker, atMs: number, config: BreakerConfig): boolean {
  return breaker.state === 'forced-open' && atMs - breaker.sinceMs >= config.quarantineCooldownMs;
}

/** Turns the breaker off: it records calls but never trips and never blocks assignment. */
export function disable(breaker: Breaker, atMs: number, reason: string): BreakerStep {
  if (breaker.state === 'disabled') return { breaker, transition: null };
  return move(breaker, 'disabled', atMs, reason, { probeSuccesses: 0, openUntilMs: 0 });
}

/** Turns a disabled breaker back on: closed with an empty window. */
export function enable(breaker: Breaker, atMs: number, reason: string): BreakerStep {
  if (breaker.state !== 'disabled') return { breaker, transition: null };
  return move(breaker, 'closed', atMs, reason, { calls: [], opens: 0, openUntilMs: 0, probeSuccesses: 0 });
}

function open(breaker: Breaker, atMs: number, why: string, config: BreakerConfig): BreakerStep {
  const opens = breaker.opens + 1;
  const waitMs = openWaitMs(opens, config);
  const reason = `${why}; open for ${waitMs} ms (open #${opens})`;
  return move(breaker, 'open', atMs, reason, { opens, openUntilMs: atMs + waitMs, probeSuccesses: 0 });
}

function move(breaker: Breaker, to: BreakerState, atMs: number, reason: string, changes: Partial<Breaker>): BreakerStep {
  assert(breaker.state !== to, `breaker transition ${to} → ${to}`);
  const text = bounded(reason);
  return {
    breaker: { ...breaker, ...changes, state: to, sinceMs: atMs, reason: text },
    transition: { from: breaker.state, to, atMs, reason: text },
  };
}

function bounded(reason: string): string {
  return reason.length <= reasonCharsMax ? reason : `${reason.slice(0, reasonCharsMax - 1)}…`;
}

function windowText(calls: number, config: BreakerConfig): string {
  return config.window.kind === 'count' ? `the last ${calls} attempts` : `the last ${config.window.windowMs / 1000} s (${calls} attempts)`;
}
