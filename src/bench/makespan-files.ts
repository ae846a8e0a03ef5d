import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestudoClient } from '../client/index.js';
import type { LocalCluster } from '../cluster/local-cluster.js';
import type { RunSubmission, RunView, TaskTemplate } from '../model/types.js';
import { minTaskSec, slotsPerWorkerDefault, splitSlots } from './makespan.js';
import { lostTasks, stamped, startBenchCluster, waitRunEnd } from './schedule.js';
import { heavyTailedDurations, lowerBound, makespan, queueSchedule, quantile, round, timingStatic, wrongHistory } from './workload.js';

/**
 * `testudo bench makespan --files N`: the file-level case of issue 17. One
 * suite of N files whose timing history is wrong by ±error for a quarter of
 * them, split over `slots` lanes two ways: static timing shards
 * (`by: timings`: LPT on the history when the run is queued) and queue mode
 * (`by: queue`: batches carved from a longest-first queue as lanes free).
 * Both are simulated with zero overhead and run for real on a local cluster,
 * in alternating pairs (static, queue, static, queue …), each real run under
 * its own suite name so every run sees the same wrong history (a warm-up run
 * records it for all of them at once). Figures are ratios to the lower bound:
 * max(longest file, total work ÷ slots).
 */

export const filePairsDefault = 5;
export const historyErrorDefault = 0.5;

export interface FileMakespanOptions {
  readonly files: number;
  readonly slots: number;
  readonly seed: number;
  readonly scale: number;
  /** The history of a quarter of the files is off by this share (0.5: ×0.5 or ×1.5). */
  readonly historyError: number;
  /** Alternating static/queue pairs of real runs. */
  readonly pairs: number;
  readonly workers?: number;
  readonly simulateOnly?: boolean;
  readonly dataDir?: string;
}

export interface FileMakespanResult {
  case: 'files';
  files: number;
  slots: number;
  seed: number;
  scale: number;
  historyError: number;
  lowerBoundSec: number;
  totalWorkSec: number;
  longestFileSec: number;
  /** Zero-overhead simulation, ratios to the lower bound. */
  simulated: { timingStatic: number; queue: number; queueBatches: number };
  /** Real runs (null with --simulate-only): ratios of each run's wall time (submit → end) to the lower bound, in run order. */
  real: null | {
    pairs: { timingStatic: number; queue: number }[];
    median: { timingStatic: number; queue: number };
    /** Spread of each strategy's ratios: [min, max]. */
    range: { timingStatic: [number, number]; queue: [number, number] };
    /** median queue ÷ median static: below 1, queue mode finished sooner. */
    queueOverStatic: number;
    /** Tasks (batches) a queue-mode run used, per pair. */
    queueBatches: number[];
    workers: number;
    slotsPerWorker: number[];
    warmupSec: number;
    lostTasks: number;
  };
}

/** File names carry their true and their historical duration (`f0001_0.734_0.367`), so the shell runner needs no lookup. */
export function fileWorkload(files: number, seed: number, scale: number, historyError: number): { names: string[]; durations: number[]; history: number[] } {
  const durations = heavyTailedDurations(files, seed).map((d) => Math.max(minTaskSec, Math.round(d * scale * 1000) / 1000));
  const history = wrongHistory(durations, seed, historyError).map((h) => Math.max(0.001, Math.round(h * 1000) / 1000));
  const names = durations.map((d, i) => `f${String(i + 1).padStart(4, '0')}_${d.toFixed(3)}_${history[i]!.toFixed(3)}`);
  return { names, durations, history };
}

/** The zero-overhead figures: static LPT on the history vs the queue, both under the true durations. */
export function simulateFiles(durations: readonly number[], history: readonly number[], slots: number) {
  const lb = lowerBound(durations, slots);
  const staticMs = makespan(timingStatic(history, slots), durations);
  const queue = queueSchedule(history, durations, slots);
  return { lowerBound: lb, timingStatic: staticMs, queue: queue.makespan, queueBatches: queue.batches };
}

/**
 * The runner a batch executes: sleeps each file's true duration (or, in the
 * warm-up, none) and reports one case per file with its `file` attribute and
 * the duration the coordinator records for it.
 */
function fileRunner(warmup: boolean): string {
  const pick = warmup ? 'h=${f##*_}' : 'h=${f#*_}; h=${h%_*}; sleep $h';
  return (
    `r=''; for f in $TESTUDO_FILES; do ${pick}; ` +
    `r="$r<testcase classname=\\"bench\\" name=\\"$f\\" file=\\"$f\\" time=\\"$h\\"/>"; done; ` +
    `printf '<testsuite name="bench">%s</testsuite>' "$r" > "$TESTUDO_JUNIT"`
  );
}

function fileTemplate(suite: string, names: readonly string[], shard: number, shardCount: number, by: 'warmup' | 'timings' | 'queue'): TaskTemplate {
  return {
    suite,
    command: fileRunner(by === 'warmup'),
    cwd: '.',
    shard,
    shardCount,
    files: [...names],
    splitByTimings: by === 'timings',
    ...(by === 'queue' ? { queue: true } : {}),
    matrix: {},
    env: {},
    requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
    priority: 0,
    timeoutSec: 3600,
    retries: 0,
    exclusive: false,
  };
}

export async function runFileMakespanBench(options: FileMakespanOptions, log: (line: string) => void): Promise<FileMakespanResult> {
  log = stamped(log);
  const { names, durations, history } = fileWorkload(options.files, options.seed, options.scale, options.historyError);
  const sim = simulateFiles(durations, history, options.slots);
  const lb = sim.lowerBound;
  const total = durations.reduce((a, b) => a + b, 0);
  log(`${options.files} files, total work ${total.toFixed(1)} s, longest ${Math.max(...durations).toFixed(2)} s, lower bound ${lb.toFixed(2)} s on ${options.slots} slots`);
  log(`simulated: timing shards ${(sim.timingStatic / lb).toFixed(3)}, queue ${(sim.queue / lb).toFixed(3)} (${sim.queueBatches} batches)`);
  const base = {
    case: 'files' as const,
    files: options.files,
    slots: options.slots,
    seed: options.seed,
    scale: options.scale,
    historyError: options.historyError,
    lowerBoundSec: round(lb),
    totalWorkSec: round(total),
    longestFileSec: round(Math.max(...durations)),
    simulated: { timingStatic: round(sim.timingStatic / lb), queue: round(sim.queue / lb), queueBatches: sim.queueBatches },
  };
  if (options.simulateOnly === true) return { ...base, real: null };
  return { ...base, real: await realFileRuns(options, names, lb, log) };
}

async function realFileRuns(options: FileMakespanOptions, names: readonly string[], lb: number, log: (line: string) => void): Promise<NonNullable<FileMakespanResult['real']>> {
  const workers = Math.min(options.slots, options.workers ?? Math.ceil(options.slots / slotsPerWorkerDefault));
  const perWorker = splitSlots(options.slots, workers);
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-bench-files-')));
  let cluster: LocalCluster | null = null;
  let client: TestudoClient | null = null;
  try {
    ({ cluster, client } = await startBenchCluster(dataDir, workers, (i) => ({ slots: perWorker[i]!, executor: 'process' }), log));
    const c = client;
    const submit = async (name: string, tasks: TaskTemplate[]): Promise<{ view: RunView; wallSec: number }> => {
      const submission: RunSubmission = { name, setup: [], setupCacheKey: '', sourceDir: dataDir, tasks };
      const runId = `${name}-${options.seed}-${Date.now()}`;
      const t0 = performance.now();
      await c.submitRun(submission, { runId });
      const end = await waitRunEnd(c, runId);
      const wallSec = (performance.now() - t0) / 1000;
      const view = await c.getRun(runId);
      log(`${name} ${end.state} in ${wallSec.toFixed(2)} s (${(wallSec / lb).toFixed(3)} of the lower bound, ${view.tasks.length} tasks)`);
      if (end.state !== 'passed') throw new Error(`run ${runId} ended ${end.state}`);
      return { view, wallSec };
    };
    const suites = Array.from({ length: options.pairs }, (_, k) => [`bench-files-static-${k + 1}`, `bench-files-queue-${k + 1}`] as const);
    log('warm-up run: records the wrong history under every suite the measured runs use');
    const warmup = await submit('bench-files-warmup', suites.flat().map((suite) => fileTemplate(suite, names, 1, 1, 'warmup')));
    const pairs: { timingStatic: number; queue: number }[] = [];
    const queueBatches: number[] = [];
    let lost = lostTasks(warmup.view);
    for (const [staticSuite, queueSuite] of suites) {
      const lanes = Array.from({ length: options.slots }, (_, i) => i + 1);
      const s = await submit(staticSuite, lanes.map((k) => fileTemplate(staticSuite, names, k, options.slots, 'timings')));
      const q = await submit(queueSuite, lanes.map((k) => fileTemplate(queueSuite, names, k, options.slots, 'queue')));
      pairs.push({ timingStatic: round(s.wallSec / lb), queue: round(q.wallSec / lb) });
      queueBatches.push(q.view.tasks.length);
      lost += lostTasks(s.view) + lostTasks(q.view);
    }
    const statics = pairs.map((p) => p.timingStatic);
    const queues = pairs.map((p) => p.queue);
    const median = { timingStatic: quantile(statics, 0.5), queue: quantile(queues, 0.5) };
    return {
      pairs,
      median,
      range: { timingStatic: [Math.min(...statics), Math.max(...statics)], queue: [Math.min(...queues), Math.max(...queues)] },
      queueOverStatic: round(median.queue / median.timingStatic),
      queueBatches,
      workers,
      slotsPerWorker: perWorker,
      warmupSec: round(warmup.wallSec),
      lostTasks: lost,
    };
  } finally {
    client?.close();
    await cluster?.stop();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}
