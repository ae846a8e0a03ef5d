// Realistic chaos bench results: the same seeded workload and fault schedule in both modes.
import type { ChaosBenchSummary, ChaosChecks, ChaosRunResult, FaultGroup, FaultOutcome, ThroughputSample } from '../../../src/failure-injection/results.js';

export function checks(over: Partial<ChaosChecks> = {}): ChaosChecks {
  return { lostTasks: 0, duplicateResults: 0, divergentReplicas: 0, splitBrainTerms: 0, steadyStateViolations: 0, ready: true, readyMs: 1_200, findings: [], ...over };
}

export function fault(over: Partial<FaultOutcome> & Pick<FaultOutcome, 'type' | 'intensity' | 'injectedAtMs' | 'healedAtMs'>): FaultOutcome {
  return { scope: 'follower', targets: ['n2'], detectMs: 400, newLeaderMs: null, firstWriteMs: 150, throughputBackMs: 2_000, ...over };
}

/** Throughput every second: flat at `base`, dipping to `dip` inside each fault's span. */
export function samples(durationSec: number, base: number, faults: readonly FaultOutcome[], dip: number): ThroughputSample[] {
  return Array.from({ length: durationSec }, (_, i) => {
    const tMs = (i + 1) * 1000;
    const hit = faults.some((f) => tMs > f.injectedAtMs && tMs <= f.healedAtMs + 1000);
    return { tMs, tasksPerSec: hit ? dip : base };
  });
}

/** Medians per group, computed the way the runner does (odd counts only in these fixtures). */
export function groups(faults: readonly FaultOutcome[]): FaultGroup[] {
  const byKey = new Map<string, FaultOutcome[]>();
  for (const f of faults) byKey.set(`${f.type}/${f.intensity}`, [...(byKey.get(`${f.type}/${f.intensity}`) ?? []), f]);
  const med = (values: Array<number | null>): number | null => {
    const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length === 0 ? null : (v[Math.floor(v.length / 2)] as number);
  };
  return [...byKey.values()].map((fs) => ({
    type: fs[0]!.type,
    intensity: fs[0]!.intensity,
    count: fs.length,
    detectMs: med(fs.map((f) => f.detectMs)),
    newLeaderMs: med(fs.map((f) => f.newLeaderMs)),
    firstWriteMs: med(fs.map((f) => f.firstWriteMs)),
    throughputBackMs: med(fs.map((f) => f.throughputBackMs)),
  }));
}

const breakerFaults: FaultOutcome[] = [
  fault({ type: 'kill', intensity: 'severe', scope: 'leader', targets: ['n1'], injectedAtMs: 10_000, healedAtMs: 25_000, detectMs: 900, newLeaderMs: 1_500, firstWriteMs: 1_700, throughputBackMs: 3_200 }),
  fault({ type: 'latency', intensity: 'moderate', scope: 'follower', targets: ['n3'], injectedAtMs: 30_000, healedAtMs: 38_000, detectMs: 2_500, firstWriteMs: 300, throughputBackMs: 1_000 }),
  fault({
    type: 'worker-crash',
    intensity: 'moderate',
    scope: 'worker',
    targets: ['w1'],
    adapted: { wanted: 'severe', reason: 'breaker half-open on w1' },
    injectedAtMs: 42_000,
    healedAtMs: 47_000,
    detectMs: 600,
    firstWriteMs: 50,
    throughputBackMs: 4_000,
  }),
  fault({ type: 'worker-hang', intensity: 'severe', scope: 'worker', targets: [], adapted: { wanted: 'severe', reason: 'breaker open on w2' }, injectedAtMs: 50_000, healedAtMs: 50_000, detectMs: null, firstWriteMs: 20, throughputBackMs: null }),
];

const noBreakerFaults: FaultOutcome[] = [
  fault({ type: 'kill', intensity: 'severe', scope: 'leader', targets: ['n1'], injectedAtMs: 10_000, healedAtMs: 25_000, detectMs: 950, newLeaderMs: 1_600, firstWriteMs: 1_900, throughputBackMs: 6_500 }),
  fault({ type: 'latency', intensity: 'moderate', scope: 'follower', targets: ['n3'], injectedAtMs: 30_000, healedAtMs: 38_000, detectMs: null, firstWriteMs: 320, throughputBackMs: 1_200 }),
  fault({ type: 'worker-crash', intensity: 'severe', scope: 'worker', targets: ['w1'], injectedAtMs: 42_000, healedAtMs: 57_000, detectMs: 700, firstWriteMs: 60, throughputBackMs: 12_000 }),
  fault({ type: 'worker-hang', intensity: 'severe', scope: 'worker', targets: ['w2'], injectedAtMs: 50_000, healedAtMs: 70_000, detectMs: 10_000, firstWriteMs: 25, throughputBackMs: null }),
];

export function run(mode: ChaosRunResult['mode'], over: Partial<ChaosRunResult> = {}): ChaosRunResult {
  const faults = mode === 'breaker' ? breakerFaults : noBreakerFaults;
  const base: ChaosRunResult =
    mode === 'breaker'
      ? {
          scenario: 'mixed-faults',
          seed: 42,
          mode,
          tasks: 200,
          passed: 195,
          failed: 5,
          failedInfra: 3,
          successRate: 0.975,
          infraRetries: 17,
          wastedAttempts: 17,
          spawnRetries: 3,
          makespanMs: 62_300,
          quarantinedAfterHeal: 1,
          leaderTerms: 3,
          baselineTasksPerSec: 4.2,
          cpuSeconds: 35.25,
          peakRssBytes: 512 * 1024 * 1024,
          faults,
          byFault: groups(faults),
          throughput: samples(62, 4.2, faults, 1.5),
          checks: checks(),
        }
      : {
          scenario: 'mixed-faults',
          seed: 42,
          mode,
          tasks: 200,
          passed: 180,
          failed: 20,
          failedInfra: 14,
          successRate: 0.9,
          infraRetries: 41,
          wastedAttempts: 41,
          spawnRetries: 0,
          makespanMs: 75_100,
          quarantinedAfterHeal: 0,
          leaderTerms: 3,
          baselineTasksPerSec: 4.18,
          cpuSeconds: 40.5,
          peakRssBytes: 600 * 1024 * 1024,
          faults,
          byFault: groups(faults),
          throughput: samples(75, 4.18, faults, 0.8),
          checks: checks({ readyMs: 2_500 }),
        };
  return { ...base, ...over };
}

export function bench(over: Partial<ChaosBenchSummary> = {}): ChaosBenchSummary {
  return {
    scenario: 'mixed-faults',
    seed: 42,
    lostTasks: 0,
    duplicateResults: 0,
    divergentReplicas: 0,
    splitBrainTerms: 0,
    withBreaker: run('breaker'),
    withoutBreaker: run('no-breaker'),
    recoveryTimeReductionPct: 42.5,
    successRateGainPct: 8.333,
    ...over,
  };
}

/** The rows of the first table after `heading` (header and separator dropped), split on unescaped pipes. */
export function tableAfter(md: string, heading: string): string[][] {
  const lines = md.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading ${heading}`);
  let i = start + 1;
  while (i < lines.length && !lines[i]!.startsWith('|')) {
    if (lines[i]!.startsWith('#')) throw new Error(`no table under ${heading}`);
    i++;
  }
  const rows: string[][] = [];
  for (; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows.slice(2);
}

/** The header row of the first table after `heading`. */
export function headerAfter(md: string, heading: string): string[] {
  const lines = md.split('\n');
  const line = lines.slice(lines.indexOf(heading)).find((l) => l.startsWith('|'));
  return line!.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
}

export function rowOf(rows: readonly string[][], first: string): string[] {
  const row = rows.find((r) => r[0] === first);
  if (!row) throw new Error(`no row ${first}`);
  return row;
}
