/**
 * Number formatting and grouping shared by the chaos report renderers. Pure:
 * the same input gives the same text, and a non-finite number never reaches
 * the output (it reads "n/a").
 */
import { FAULT_TYPES, intensityRank, type FaultType, type Intensity } from '../catalog.js';
import type { ChaosRunResult, FaultGroup } from '../results.js';

export const MODES = ['breaker', 'no-breaker'] as const;
export type Mode = (typeof MODES)[number];

const BYTES_PER_MIB = 1024 * 1024;

/** `digits` decimals, or "n/a" for NaN and ±Infinity (a bad input must not print as "NaN"). */
export function fixed(n: number, digits: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const text = n.toFixed(digits);
  // -0.00 reads as a sign error.
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** A duration for people: "850 ms" under a second, "1.25 s" up to ten, "12.5 s" above; `none` for null. */
export function durationText(ms: number | null, none: string): string {
  if (ms === null) return none;
  if (!Number.isFinite(ms)) return 'n/a';
  if (Math.abs(ms) < 1000) return `${fixed(ms, 0)} ms`;
  return `${fixed(ms / 1000, Math.abs(ms) < 10_000 ? 2 : 1)} s`;
}

/** A time since the workload started, in seconds with one decimal. */
export function atText(ms: number): string {
  return `${fixed(ms / 1000, 1)} s`;
}

/** A 0..1 rate as a percentage. */
export function rateText(rate: number): string {
  return `${fixed(rate * 100, 1)}%`;
}

/** A signed percentage ("+12.5%", "-3.0%"). */
export function signedPctText(pct: number): string {
  const text = fixed(pct, 1);
  return pct > 0 && text !== 'n/a' && Number(text) !== 0 ? `+${text}%` : `${text}%`;
}

export function mibText(bytes: number): string {
  return fixed(bytes / BYTES_PER_MIB, 1);
}

/** The median of the values (mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

/** One fault type × intensity with each mode's group (absent when the mode had no such fault). */
export interface GroupRow {
  readonly type: FaultType;
  readonly intensity: Intensity;
  readonly byMode: Readonly<Partial<Record<Mode, FaultGroup>>>;
}

function groupOrder(a: { type: FaultType; intensity: Intensity }, b: { type: FaultType; intensity: Intensity }): number {
  const byType = FAULT_TYPES.indexOf(a.type) - FAULT_TYPES.indexOf(b.type);
  return byType !== 0 ? byType : intensityRank(a.intensity) - intensityRank(b.intensity);
}

/**
 * The fault groups of the runs joined on type × intensity, in catalog order
 * (then mild → severe) so the output does not depend on the runner's order.
 */
export function groupRows(runs: readonly ChaosRunResult[]): GroupRow[] {
  const rows = new Map<string, { type: FaultType; intensity: Intensity; byMode: Partial<Record<Mode, FaultGroup>> }>();
  for (const run of runs) {
    for (const group of run.byFault) {
      const key = `${group.type}/${group.intensity}`;
      const row = rows.get(key) ?? { type: group.type, intensity: group.intensity, byMode: {} };
      // Should a mode list a group twice, the first one counts.
      row.byMode[run.mode] ??= group;
      rows.set(key, row);
    }
  }
  return [...rows.values()].sort(groupOrder);
}

/**
 * What each figure means, for the "What the figures mean" section (from the
 * doc comments in results.ts; docs/chaos.md has the long form).
 */
export const FIGURE_NOTES: ReadonlyArray<readonly [string, string]> = [
  ['Lost tasks', 'Tasks of the workload that did not end in a terminal state, or are missing from the run. Must be 0.'],
  ['Duplicate results', 'Tasks with more than one counted result. Must be 0.'],
  ['Divergent replicas', "Replicas whose state digest differs from the leader's after healing. Must be 0."],
  ['Split-brain terms', 'Terms in which two different nodes said they were leader. Must be 0.'],
  ['Steady-state violations', "The scenario's own hypotheses that failed (checks.minSuccessRate, checks.recoverWithin). Must be 0."],
  ['Ready', 'After healing, the cluster had a leader, every member was up and a write committed within the bound; readyMs is how long that took.'],
  ['Success rate', 'Passed tasks divided by all tasks (the synthetic workload has no failing tests, so every failure is caused by a fault).'],
  ['Failed-infra', 'Tasks that ended failed-infra: an infrastructure failure of level 5, or its retries exhausted.'],
  ['Infra retries', 'Attempts beyond the first, summed over the tasks: the retries spent on infrastructure failures.'],
  ['Makespan', 'Time from the start of the workload until its last task ended.'],
  ['Baseline throughput', 'Completed tasks per second without faults (median of the 5-s rolling throughput outside every fault and 5 s after it); the 90% recovery mark is measured against it.'],
  ['CPU seconds', 'User plus system CPU time of every coordinator and worker process of the run.'],
  ['Peak RSS', 'The highest sum of resident memory of those processes seen at one time.'],
  ['Time to detect', 'From injection to the first sign the cluster noticed: a leader change, a worker declared lost, a breaker leaving closed, or an infrastructure failure recorded.'],
  ['Time to new leader', 'From injection until a leader was elected in a term above the one at injection; none when leadership never changed.'],
  ['Time to first write', 'From injection until the first client write committed after it.'],
  ['Time to 90% throughput', 'From injection until throughput was back at 90% or more of the baseline; none when it never came back before the run ended.'],
  ['Recovery time reduction', 'How much shorter the median time to 90% throughput is with breakers, in percent of the time without (positive: faster).'],
  ['Success rate gain', 'Success rate with breakers minus without, in percent of the rate without.'],
];
