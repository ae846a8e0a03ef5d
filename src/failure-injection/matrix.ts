/**
 * The chaos benchmark's matrix: every scenario × every seed × {adaptive
 * recovery on, off}, and per scenario the mean and 95% interval of each
 * figure in each mode and of the paired on-vs-off comparison (stats.ts). The
 * passes run one at a time through `runPass` (runner.ts in the CLI); the
 * rest is pure.
 */
import { basename, extname } from 'node:path';
import type { ChaosRunResult } from './results.js';
import { resilienceScore } from './score.js';
import type { Scenario } from './scenario/index.js';
import { meanInterval, pairedDifference, pairedRatio, type Comparison, type Interval } from './stats.js';

/** 'breaker': breakers and adaptive recovery on; 'no-breaker': off (the fixed policy). */
export type BenchMode = 'breaker' | 'no-breaker';

/** Most seeds a matrix runs per scenario. */
export const seedsMax = 100;
/** The default seeds (`--seeds 1..10`). */
export const defaultSeeds: readonly number[] = Array.from({ length: 10 }, (_, i) => i + 1);

/** A `--seeds` value that is not a list of seeds. */
export class SeedListError extends Error {
  override readonly name = 'SeedListError';
}

/** `1..10`, `1,4,9` or a mix (`1..3,7`): distinct non-negative integers, at most seedsMax, in the order given. */
export function parseSeedList(raw: string): number[] {
  const seeds: number[] = [];
  const integer = (text: string): number => {
    if (!/^\d{1,9}$/.test(text)) throw new SeedListError(`"${text}" is not a non-negative integer`);
    return Number(text);
  };
  for (const item of raw.split(',').map((s) => s.trim())) {
    const range = /^(\d+)\.\.(\d+)$/.exec(item);
    const [from, to] = range === null ? [integer(item), integer(item)] : [integer(range[1]!), integer(range[2]!)];
    if (to < from) throw new SeedListError(`the range ${item} runs backwards`);
    if (to - from + 1 + seeds.length > seedsMax) throw new SeedListError(`more than ${seedsMax} seeds`);
    for (let s = from; s <= to; s++) {
      if (seeds.includes(s)) throw new SeedListError(`seed ${s} is given twice`);
      seeds.push(s);
    }
  }
  return seeds;
}

/** A scenario as the matrix names it: after its file (chaos/scenarios/worker-crash-loop.yaml → worker-crash-loop). */
export function scenarioFileName(file: string): string {
  return basename(file, extname(file));
}

/** What one pass contributes to the matrix. */
export interface PassFigures {
  readonly scenario: string;
  readonly seed: number;
  readonly mode: BenchMode;
  readonly makespanMs: number;
  /** Mean over the faults of the time back to 90% throughput; a fault it never came back from counts until the workload ended. Null without faults. */
  readonly recoveryMs: number | null;
  readonly wastedAttempts: number;
  /** Starts tried again inside attempts (0 with adaptive recovery off): the cost wastedAttempts does not count. */
  readonly spawnRetries: number;
  readonly successRate: number;
  readonly infraRetries: number;
  readonly cpuSeconds: number;
  readonly resilienceScore: number;
  /** Workers still quarantined (breaker open or forced-open) after the last heal, at the workload's end; null when unknown. */
  readonly quarantinedAfterHeal: number | null;
  readonly lostTasks: number;
  readonly duplicateResults: number;
  readonly divergentReplicas: number;
  readonly splitBrainTerms: number;
}

export function passFigures(name: string, scenario: Pick<Scenario, 'checks'>, r: ChaosRunResult): PassFigures {
  const back = r.faults.map((f) => f.throughputBackMs ?? Math.max(0, r.makespanMs - f.injectedAtMs));
  return {
    scenario: name,
    seed: r.seed,
    mode: r.mode,
    makespanMs: r.makespanMs,
    recoveryMs: back.length === 0 ? null : back.reduce((a, b) => a + b, 0) / back.length,
    wastedAttempts: r.wastedAttempts,
    spawnRetries: r.spawnRetries,
    successRate: r.successRate,
    infraRetries: r.infraRetries,
    cpuSeconds: r.cpuSeconds,
    resilienceScore: resilienceScore(r, scenario.checks).score,
    quarantinedAfterHeal: r.quarantinedAfterHeal,
    lostTasks: r.checks.lostTasks,
    duplicateResults: r.checks.duplicateResults,
    divergentReplicas: r.checks.divergentReplicas,
    splitBrainTerms: r.checks.splitBrainTerms,
  };
}

/** The figures compared, each with its unit's resolution (the ratio's floor) and whether lower is better. */
export const FIGURES = {
  makespanMs: { floor: 1_000, lowerIsBetter: true, compare: 'ratio' },
  recoveryMs: { floor: 1_000, lowerIsBetter: true, compare: 'ratio' },
  wastedAttempts: { floor: 1, lowerIsBetter: true, compare: 'ratio' },
  spawnRetries: { floor: 0, lowerIsBetter: true, compare: 'difference' },
  infraRetries: { floor: 1, lowerIsBetter: true, compare: 'ratio' },
  cpuSeconds: { floor: 0.01, lowerIsBetter: true, compare: 'ratio' },
  successRate: { floor: 0, lowerIsBetter: false, compare: 'difference' },
  resilienceScore: { floor: 0, lowerIsBetter: false, compare: 'difference' },
  quarantinedAfterHeal: { floor: 0, lowerIsBetter: true, compare: 'difference' },
} as const;

export type Figure = keyof typeof FIGURES;
export const FIGURE_NAMES = Object.keys(FIGURES) as Figure[];

export interface ScenarioStats {
  readonly name: string;
  readonly seeds: readonly number[];
  /** Each figure's mean and interval with adaptive recovery on, and off. */
  readonly on: Readonly<Record<Figure, Interval>>;
  readonly off: Readonly<Record<Figure, Interval>>;
  /** On ÷ off (ratios: geometric mean of the per-seed ratios) or on − off (differences), over the seeds where both passes have the figure. */
  readonly compare: Readonly<Record<Figure, Comparison>>;
}

/** Per scenario: the passes paired by seed, each figure's intervals and the comparison. */
export function scenarioStats(name: string, passes: readonly PassFigures[]): ScenarioStats {
  const mine = passes.filter((p) => p.scenario === name);
  const seeds = [...new Set(mine.map((p) => p.seed))].sort((a, b) => a - b);
  const pairs = seeds.map((seed) => {
    const on = mine.find((p) => p.seed === seed && p.mode === 'breaker');
    const off = mine.find((p) => p.seed === seed && p.mode === 'no-breaker');
    if (on === undefined || off === undefined) throw new Error(`${name} seed ${seed} lacks a pass in one mode`);
    return { on, off };
  });
  const values = (side: 'on' | 'off', figure: Figure): number[] => pairs.map((p) => p[side][figure]).filter((v): v is number => v !== null);
  const on = {} as Record<Figure, Interval>;
  const off = {} as Record<Figure, Interval>;
  const compare = {} as Record<Figure, Comparison>;
  for (const figure of FIGURE_NAMES) {
    on[figure] = meanInterval(values('on', figure));
    off[figure] = meanInterval(values('off', figure));
    const both = pairs.filter((p) => p.on[figure] !== null && p.off[figure] !== null);
    const a = both.map((p) => p.on[figure]!);
    const b = both.map((p) => p.off[figure]!);
    const spec = FIGURES[figure];
    compare[figure] = spec.compare === 'ratio' ? pairedRatio(a, b, spec.floor, spec.lowerIsBetter) : pairedDifference(a, b, spec.lowerIsBetter);
  }
  return { name, seeds, on, off, compare };
}

/** The last stdout line of `testudo chaos bench`. */
export interface MatrixSummary {
  readonly scenarios: ReadonlyArray<{
    readonly name: string;
    readonly wastedAttemptsRatio: MeanCi;
    readonly makespanRatio: MeanCi;
    readonly recoveryTimeRatio: MeanCi;
    readonly successRateDelta: MeanCi;
    /** Mean over the seeds of the workers still quarantined after healing, in each mode (null: no pass could tell). */
    readonly quarantinedAfterHeal: { readonly on: number | null; readonly off: number | null };
  }>;
  readonly lostTasks: number;
  readonly duplicateResults: number;
  readonly divergentReplicas: number;
  readonly splitBrainTerms: number;
}

export interface MeanCi {
  readonly mean: number | null;
  readonly ci95: readonly [number | null, number | null];
}

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10_000) / 10_000);
const meanCi = (c: Interval): MeanCi => ({ mean: round(c.mean), ci95: [round(c.ci95[0]), round(c.ci95[1])] });

/** The summary: four comparisons and the quarantine left after healing per scenario, and the safety counts summed over every pass. */
export function matrixSummary(stats: readonly ScenarioStats[], passes: readonly PassFigures[]): MatrixSummary {
  const sum = (pick: (p: PassFigures) => number): number => passes.reduce((a, p) => a + pick(p), 0);
  return {
    scenarios: stats.map((s) => ({
      name: s.name,
      wastedAttemptsRatio: meanCi(s.compare.wastedAttempts),
      makespanRatio: meanCi(s.compare.makespanMs),
      recoveryTimeRatio: meanCi(s.compare.recoveryMs),
      successRateDelta: meanCi(s.compare.successRate),
      quarantinedAfterHeal: { on: round(s.on.quarantinedAfterHeal.mean), off: round(s.off.quarantinedAfterHeal.mean) },
    })),
    lostTasks: sum((p) => p.lostTasks),
    duplicateResults: sum((p) => p.duplicateResults),
    divergentReplicas: sum((p) => p.divergentReplicas),
    splitBrainTerms: sum((p) => p.splitBrainTerms),
  };
}

/** One scenario of the matrix: its name (after its file) and the parsed scenario. */
export interface MatrixScenario {
  readonly name: string;
  readonly scenario: Scenario;
}

export interface MatrixOptions {
  readonly scenarios: readonly MatrixScenario[];
  readonly seeds: readonly number[];
  /** 1: one pass at a time (the default); 2: a seed's two passes (on and off) side by side, under the same load. */
  readonly jobs?: number;
  readonly runPass: (scenario: MatrixScenario, seed: number, mode: BenchMode) => Promise<ChaosRunResult>;
  readonly log: (line: string) => void;
}

/** Most passes a matrix runs side by side: the two modes of one seed. */
export const matrixJobsMax = 2;

/**
 * The order of a seed's two passes: on first for the 1st, 3rd… seed, off
 * first for the others, so that a machine warming up or slowing down over the
 * matrix does not favour one mode.
 */
export function passOrder(seedIndex: number): readonly [BenchMode, BenchMode] {
  return seedIndex % 2 === 0 ? ['breaker', 'no-breaker'] : ['no-breaker', 'breaker'];
}

/**
 * Runs every pass, one at a time or, with jobs 2, a seed's two passes side
 * by side (started together, so both modes share the same load); returns
 * each pass's figures and result, in the pass order either way.
 */
export async function runMatrix(o: MatrixOptions): Promise<Array<{ figures: PassFigures; result: ChaosRunResult }>> {
  const names = o.scenarios.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new Error(`scenario names repeat: ${names.join(', ')}`);
  const jobs = o.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > matrixJobsMax) throw new RangeError(`jobs must be 1..${matrixJobsMax}, got ${jobs}`);
  const total = o.scenarios.length * o.seeds.length * 2;
  const out: Array<{ figures: PassFigures; result: ChaosRunResult }> = [];
  let started = 0;
  const runOne = async (s: MatrixScenario, seed: number, mode: BenchMode): Promise<{ figures: PassFigures; result: ChaosRunResult }> => {
    started++;
    o.log(`pass ${started}/${total}: ${s.name} seed ${seed} adaptive recovery ${mode === 'breaker' ? 'on' : 'off'}`);
    const result = await runPassRetried(o, s, seed, mode);
    const figures = passFigures(s.name, s.scenario, result);
    o.log(
      `  ${s.name} seed ${seed} ${mode}: makespan ${(figures.makespanMs / 1000).toFixed(1)} s, wasted ${figures.wastedAttempts}, ` +
        `success ${(figures.successRate * 100).toFixed(1)}%, score ${figures.resilienceScore.toFixed(3)}, ` +
        `quarantined after healing ${figures.quarantinedAfterHeal ?? '?'}, leader terms ${result.leaderTerms}`,
    );
    return { figures, result };
  };
  for (const s of o.scenarios) {
    for (const [i, seed] of o.seeds.entries()) {
      const modes = passOrder(i);
      if (jobs === 2) out.push(...(await bothSettled(modes.map((mode) => runOne(s, seed, mode)))));
      else for (const mode of modes) out.push(await runOne(s, seed, mode));
    }
  }
  return out;
}

/** Tries a pass may get: one more after a failure of the harness (a cluster that did not start under load), not of the checks. */
export const passTriesMax = 2;

async function runPassRetried(o: MatrixOptions, s: MatrixScenario, seed: number, mode: BenchMode): Promise<ChaosRunResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await o.runPass(s, seed, mode);
    } catch (error) {
      if (attempt >= passTriesMax) throw error;
      o.log(`  ${s.name} seed ${seed} ${mode}: the pass failed (${error instanceof Error ? error.message : String(error)}); running it again (try ${attempt + 1} of ${passTriesMax})`);
    }
  }
}

/** Like Promise.all, but waits for every pass to end (and stop its cluster) before it throws the first failure. */
async function bothSettled<T>(promises: ReadonlyArray<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
