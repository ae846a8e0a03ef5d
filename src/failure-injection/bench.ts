/**
 * The chaos benchmark's comparison (breakers and adaptive recovery on vs off)
 * and the scaling of a scenario to a requested duration. Pure.
 */
import { median } from './analysis.js';
import type { ChaosBenchSummary, ChaosRunResult } from './results.js';
import type { Scenario, TaskDuration } from './scenario/index.js';

/**
 * The benchmark matrix's default scenarios (docs/chaos.md): one bad worker
 * among healthy ones in five ways, a fleet-wide transient fault, a
 * network-flapping worker, a coordinator failover during worker faults, and
 * a control without any fault.
 */
export const MATRIX_SCENARIOS: readonly string[] = [
  'bad-worker-crash-loop',
  'bad-worker-flaky-30',
  'bad-worker-flaky-80',
  'bad-worker-hang',
  'bad-worker-slow-3x',
  'fleet-transient',
  'worker-net-flap',
  'failover-worker-faults',
  'control',
].map((name) => `chaos/scenarios/${name}.yaml`);

/** Median time to 90% throughput over the faults that recovered; null when none did. */
export function medianRecoveryMs(result: ChaosRunResult): number | null {
  return median(result.faults.map((f) => f.throughputBackMs).filter((v): v is number => v !== null));
}

function pct(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Compares the two passes; the safety counts are the sums over both. */
export function benchSummary(withBreaker: ChaosRunResult, withoutBreaker: ChaosRunResult): ChaosBenchSummary {
  const on = medianRecoveryMs(withBreaker);
  const off = medianRecoveryMs(withoutBreaker);
  const sum = (pick: (r: ChaosRunResult) => number): number => pick(withBreaker) + pick(withoutBreaker);
  return {
    scenario: withBreaker.scenario,
    seed: withBreaker.seed,
    lostTasks: sum((r) => r.checks.lostTasks),
    duplicateResults: sum((r) => r.checks.duplicateResults),
    divergentReplicas: sum((r) => r.checks.divergentReplicas),
    splitBrainTerms: sum((r) => r.checks.splitBrainTerms),
    withBreaker,
    withoutBreaker,
    recoveryTimeReductionPct: on === null || off === null || off === 0 ? null : pct(((off - on) / off) * 100),
    successRateGainPct: withoutBreaker.successRate === 0 ? null : pct(((withBreaker.successRate - withoutBreaker.successRate) / withoutBreaker.successRate) * 100),
  };
}

/** Mean of a task duration distribution (ms). */
export function meanTaskMs(d: TaskDuration): number {
  switch (d.distribution) {
    case 'fixed':
      return d.valueMs;
    case 'uniform':
      return (d.minMs + d.maxMs) / 2;
    case 'lognormal': {
      const sigma = Math.log(d.p95Ms / d.medianMs) / 1.6448536269514722;
      return d.medianMs * Math.exp((sigma * sigma) / 2);
    }
  }
}

/** Per-task overhead on top of its duration (spawn, report, scheduling) assumed when sizing a workload. */
export const taskOverheadMs = 400;

/**
 * The scenario stretched or shrunk to about `durationMs`: a random fault
 * window ends 15 s before it (so the last faults heal inside the workload),
 * a synthetic workload gets enough tasks to keep every slot busy that long,
 * and the timeout grows to fit. Explicit events and spec workloads are kept.
 */
export function withDuration(scenario: Scenario, durationMs: number): Scenario {
  const slots = scenario.cluster.workers * scenario.cluster.slotsPerWorker;
  const workload =
    scenario.workload.kind === 'synthetic'
      ? {
          kind: 'synthetic' as const,
          synthetic: {
            ...scenario.workload.synthetic,
            tasks: Math.max(1, Math.min(5_000, Math.round((durationMs * slots) / (meanTaskMs(scenario.workload.synthetic.duration) + taskOverheadMs)))),
          },
        }
      : scenario.workload;
  const faults =
    scenario.faults.kind === 'random'
      ? { kind: 'random' as const, random: { ...scenario.faults.random, endMs: Math.max(scenario.faults.random.startMs, durationMs - 15_000) } }
      : scenario.faults;
  return { ...scenario, workload, faults, checks: { ...scenario.checks, timeoutMs: Math.max(scenario.checks.timeoutMs, durationMs * 2 + 60_000) } };
}
