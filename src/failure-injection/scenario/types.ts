// A chaos scenario as parsed from chaos/scenarios/*.yaml: plain data. The
// format is documented in schema/chaos-scenario.schema.json and parse.ts.

import type { FaultEvent, FaultType, Intensity, Scope } from '../catalog.js';

/** How long each synthetic test runs (ms; drawn per task from the seed). */
export type TaskDuration =
  | { readonly distribution: 'fixed'; readonly valueMs: number }
  | { readonly distribution: 'uniform'; readonly minMs: number; readonly maxMs: number }
  /** Lognormal with the given median and 95th percentile (p95Ms ≥ medianMs). */
  | { readonly distribution: 'lognormal'; readonly medianMs: number; readonly p95Ms: number };

export type TaskDistribution = TaskDuration['distribution'];

/** A generated workload: `tasks` tests, one task each, of the given durations. */
export interface SyntheticWorkload {
  readonly tasks: number;
  readonly duration: TaskDuration;
  /**
   * Suites the tasks are dealt into, consecutive tasks as shards of one
   * suite (absent: one suite per task, up to the spec's suite limit). Shards
   * of a suite are peers: hedging compares a straggler with them.
   */
  readonly suites?: number;
}

export type ScenarioWorkload =
  | { readonly kind: 'synthetic'; readonly synthetic: SyntheticWorkload }
  | {
      readonly kind: 'spec';
      /** As written in the file. */
      readonly spec: string;
      /** Absolute path of the run spec (a regular file that existed when parsed). */
      readonly specPath: string;
    };

/**
 * Faults drawn from a seed: one roughly every `everyMs` (jittered ±30%)
 * between `startMs` and `endMs`, each of a type, intensity and scope drawn
 * from the lists. `scopes` holds the allowed scopes of every type in `types`
 * (the catalog's list where the file gave none).
 */
export interface RandomFaults {
  /** Added to the run's seed, so one seed can drive several scenarios differently. */
  readonly seedOffset: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly everyMs: number;
  readonly types: readonly FaultType[];
  readonly intensities: readonly Intensity[];
  readonly scopes: Readonly<Partial<Record<FaultType, readonly Scope[]>>>;
}

export type ScenarioFaults =
  | { readonly kind: 'none' }
  /** In file order; faultSchedule() sorts them by time. */
  | { readonly kind: 'events'; readonly events: readonly FaultEvent[] }
  | { readonly kind: 'random'; readonly random: RandomFaults };

export interface ClusterShape {
  readonly coordinators: 3 | 5;
  readonly workers: number;
  readonly slotsPerWorker: number;
}

export interface ScenarioChecks {
  /** After the last fault heals, the cluster must report ready within this. */
  readonly readyWithinMs: number;
  /** The whole scenario (workload and faults) must finish within this. */
  readonly timeoutMs: number;
  /** Steady state: at least this share of the workload's tasks must pass (0..1); absent: not checked. */
  readonly minSuccessRate?: number;
  /** Steady state: after every fault, throughput must be back at 90% of the baseline within this; absent: not checked. */
  readonly recoverWithinMs?: number;
}

/** A validated chaos scenario. */
export interface Scenario {
  /** The file name as given (the prefix of error messages). */
  readonly file: string;
  /** Absolute directory the file's relative paths resolve against. */
  readonly sourceDir: string;
  readonly name: string;
  readonly description: string;
  readonly cluster: ClusterShape;
  readonly workload: ScenarioWorkload;
  readonly faults: ScenarioFaults;
  /** Cap faults aimed at workers by their breaker state (catalog.ts capIntensity). */
  readonly adaptiveIntensity: boolean;
  readonly checks: ScenarioChecks;
}
