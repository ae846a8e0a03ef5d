/**
 * What a chaos run measures and what `testudo chaos bench` reports: plain
 * data, shared by the runner (which fills it), the report renderers (Markdown,
 * SVG) and the CLI (JSON). docs/chaos.md explains every figure.
 */
import type { FaultType, Intensity, Scope } from './catalog.js';

/** One injected fault and how the cluster recovered from it. Times are ms since the workload started. */
export interface FaultOutcome {
  readonly type: FaultType;
  readonly intensity: Intensity;
  readonly scope: Scope;
  /** Node or worker ids the fault hit (empty when adaptive intensity skipped it). */
  readonly targets: readonly string[];
  /** Lowered or skipped by adaptive intensity: the intensity asked for, and why. */
  readonly adapted?: { readonly wanted: Intensity; readonly reason: string };
  readonly injectedAtMs: number;
  readonly healedAtMs: number;
  /**
   * Injection → the first sign the cluster noticed (a leader change, a worker
   * declared lost, a breaker leaving closed, an infrastructure failure
   * recorded); null when nothing noticed.
   */
  readonly detectMs: number | null;
  /** Injection → a leader (in any term above the one at injection) was elected; null when leadership never changed. */
  readonly newLeaderMs: number | null;
  /** Injection → the first client write committed after the injection; null when none did before the run ended. */
  readonly firstWriteMs: number | null;
  /** Injection → throughput back at ≥ 90% of the baseline; null when it never came back before the run ended. */
  readonly throughputBackMs: number | null;
}

/** Completed tasks per second over one sampling interval ending at tMs. */
export interface ThroughputSample {
  readonly tMs: number;
  readonly tasksPerSec: number;
}

/** Aggregates of the faults of one type and intensity. */
export interface FaultGroup {
  readonly type: FaultType;
  readonly intensity: Intensity;
  readonly count: number;
  /** Medians over the group's faults that have the figure; null when none has. */
  readonly detectMs: number | null;
  readonly newLeaderMs: number | null;
  readonly firstWriteMs: number | null;
  readonly throughputBackMs: number | null;
}

/** One pass of a workload and its fault schedule. */
export interface ChaosRunResult {
  readonly scenario: string;
  readonly seed: number;
  /** 'breaker': circuit breakers and adaptive recovery on; 'no-breaker': both off. */
  readonly mode: 'breaker' | 'no-breaker';
  readonly tasks: number;
  readonly passed: number;
  readonly failed: number;
  /** Tasks that ended failed-infra (level 5 or retries exhausted). */
  readonly failedInfra: number;
  /** passed / tasks (the synthetic workload has no failing tests). */
  readonly successRate: number;
  /** Attempts beyond the first per task (the infrastructure retries). */
  readonly infraRetries: number;
  /** Attempts that did not produce their task's final verdict (analysis.ts wastedAttempts). */
  readonly wastedAttempts: number;
  /** Starts that failed and were tried again inside an attempt (spawn retries in place; not attempts, so not in wastedAttempts). */
  readonly spawnRetries: number;
  readonly makespanMs: number;
  /**
   * Workers whose breaker was still open or forced-open (quarantined) when
   * the workload ended, after every fault had healed; null when the cluster
   * could not list its workers then.
   */
  readonly quarantinedAfterHeal: number | null;
  /** Terms in which a node became leader (analysis.ts leaderTerms): 1 when the first election held for the whole run. */
  readonly leaderTerms: number;
  /** Completed tasks per second without faults: the median of the 5-s rolling throughput outside every fault (injection to 5 s after healing). */
  readonly baselineTasksPerSec: number;
  /** CPU seconds (user + system) of every coordinator and worker process of the run. */
  readonly cpuSeconds: number;
  /** Highest sum of resident memory of those processes seen at one time (bytes). */
  readonly peakRssBytes: number;
  readonly faults: readonly FaultOutcome[];
  readonly byFault: readonly FaultGroup[];
  readonly throughput: readonly ThroughputSample[];
  readonly checks: ChaosChecks;
}

/** The safety checks of a chaos run. Each count must be 0 (ready must be true) for the run to pass. */
export interface ChaosChecks {
  /** Tasks of the workload that do not end in a terminal state, or are missing from the run. */
  readonly lostTasks: number;
  /** Tasks with more than one counted result. */
  readonly duplicateResults: number;
  /** Replicas whose state digest differs from the leader's after healing. */
  readonly divergentReplicas: number;
  /** Terms in which two different nodes said they were leader. */
  readonly splitBrainTerms: number;
  /** The cluster had a leader, every member was up and a write committed within the bound after healing. */
  readonly ready: boolean;
  readonly readyMs: number | null;
  /**
   * The scenario's steady-state checks (minSuccessRate, recoverWithin) that
   * failed, as findings; empty when they held or the scenario has none.
   */
  readonly steadyStateViolations: number;
  /** Human-readable findings behind any non-zero count. */
  readonly findings: readonly string[];
}

/** The last line `testudo chaos bench` prints. */
export interface ChaosBenchSummary {
  readonly scenario: string;
  readonly seed: number;
  readonly lostTasks: number;
  readonly duplicateResults: number;
  readonly divergentReplicas: number;
  readonly splitBrainTerms: number;
  readonly withBreaker: ChaosRunResult;
  readonly withoutBreaker: ChaosRunResult;
  /**
   * How much shorter the median time until throughput was back at 90% is
   * with breakers, in percent of the time without (positive: faster).
   */
  readonly recoveryTimeReductionPct: number | null;
  /** Success rate with breakers minus without, in percent of the rate without. */
  readonly successRateGainPct: number | null;
}
