import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestudoClient } from '../client/index.js';
import type { LocalCluster } from '../cluster/local-cluster.js';
import type { RunSubmission, TaskTemplate } from '../model/types.js';
import { attemptPhaseNames, zeroPhaseSeconds, type AttemptPhaseName, type AttemptPhaseTotals } from '../worker/attempt-phases.js';
import { runDirectPool } from './direct-pool.js';
import { metricsFetchTimeoutMs, parseMetricSamples, readMachineBusySeconds } from './process-stats.js';
import { archiveWaitMsMax, cpuSecondsByRole, dispatchLatencies, leaderCommitIndex, lostTasks, memberDataDirs, slotRefillGaps, stamped, startBenchCluster, waitArchived, waitRunEnd } from './schedule.js';
import { equalCount, heavyTailedDurations, listSchedule, longestFirst, lowerBound, makespan, perturb, quantile, round, roundRobin, timingStatic } from './workload.js';

/**
 * Default --scale. The generator's mean is 1 s, so 2,000 tasks on 50 slots
 * have a lower bound of ≈ 40 s unscaled; at 0.5 it is ≈ 20 s, and the two
 * real runs (history-building warm-up + measured run) take ≈ 1 minute
 * together. Smaller scales make the per-task fixed cost (Raft commit of the
 * assignment, /bin/sh + sleep + printf spawn, report parse, result commit:
 * tens of ms on a loaded 2-core box) a large share of each task and measure
 * overhead rather than placement.
 */
export const makespanScaleDefault = 0.5;
/** Real sleeps shorter than this are raised to it (after scaling), so no task is pure spawn overhead. */
export const minTaskSec = 0.02;
/** Real slots per worker process when the bench picks the worker count itself. */
export const slotsPerWorkerDefault = 10;

export interface MakespanBenchOptions {
  readonly tasks: number;
  readonly slots: number;
  readonly seed: number;
  readonly scale: number;
  /** Run the workload once first (with the "previous run" durations) so the coordinator has a timing history. */
  readonly history: boolean;
  /** Worker processes sharing `slots` (default: ceil(slots / 10)). */
  readonly workers?: number;
  /** Skip the real run (simulated strategies only). */
  readonly simulateOnly?: boolean;
  readonly dataDir?: string;
  /** Set the cluster's prefetchPerSlot before the runs (default: the cluster's own). */
  readonly prefetchPerSlot?: number;
  /**
   * First run the same commands from this process through a plain pool of
   * `slots` processes (src/bench/direct-pool.ts), in the order the cluster
   * gets them, before the cluster starts: the machine's own floor.
   */
  readonly directBaseline?: boolean;
}

export interface MakespanBenchResult {
  lowerBoundSec: number;
  ratios: { roundRobin: number; equalCount: number; timingStatic: number; dynamic: number | null; directPool: number | null };
  tasks: number;
  slots: number;
  scale: number;
  dynamicHistory: boolean;
  dynamicMakespanSec: number | null;
  /** How the real slots were laid out. */
  workers: number;
  slotsPerWorker: number[];
  totalWorkSec: number;
  longestTaskSec: number;
  makespansSec: { roundRobin: number; equalCount: number; timingStatic: number };
  /**
   * Simulated dynamic scheduling with zero overhead (ratio to the lower bound):
   * FIFO is the real run's order without history, LPT (on the "previous run"
   * estimates) its order with one. The gap to ratios.dynamic is the cost of
   * the real system (dispatch round trips, process spawn, report handling).
   */
  idealDynamicRatios: { fifo: number; lpt: number };
  /** Dynamic run, coordinator clock: finishedAtMs − submittedAtMs. */
  dynamicClusterSec: number | null;
  /** Dynamic run, worker clocks: last task end − first task start. */
  dynamicBusySec: number | null;
  /** Dynamic run: first attempt's start − the task's queue time. */
  dispatchP50Ms: number | null;
  dispatchP99Ms: number | null;
  /** Dynamic run, worker clock: a slot's end → the next start on that worker: the scheduling round trip. */
  slotRefillP50Ms: number | null;
  slotRefillP99Ms: number | null;
  /** Dynamic run: mean of (measured attempt duration − requested sleep) — the per-task spawn/report cost inside a slot. */
  taskOverheadMeanMs: number | null;
  warmupSec: number | null;
  lostTasks: number | null;
  /** The cluster's prefetchPerSlot during the real runs. */
  prefetchPerSlot: number | null;
  /** With directBaseline: the same commands through a plain local pool of `slots` processes, wall seconds (null: not run). */
  directPoolSec: number | null;
  /** dynamicMakespanSec ÷ directPoolSec: what Testudo costs beyond what any runner pays on this machine. */
  dynamicOverDirect: number | null;
  /**
   * Dynamic run: CPU ms per task, of the whole machine (the tasks' own
   * processes, the kernel's work for them and this process included) and of
   * the cluster's processes by kind (workers: their own processes, not the
   * tasks they start).
   */
  cpuMsPerTask: CpuMsPerTask | null;
  /** Dynamic run: the machine's busy CPU time ÷ (wall time × CPUs). */
  cpuBusyShare: number | null;
  /** Dynamic run: Raft entries the leader committed per task (results and assignments share entries when they come together). */
  raftEntriesPerTask: number | null;
  /**
   * Dynamic run: where an attempt's time in its slot went on the workers,
   * mean ms per timed attempt of each phase (their
   * testudo_worker_attempt_phase_seconds_total, docs/metrics.md), and the
   * command phase beyond the tasks' mean sleep. prepare + spawn +
   * commandBeyondSleep + collect is about taskOverheadMeanMs; report is the
   * time from the result to the freed slot.
   */
  attemptPhaseMeanMs: AttemptPhaseMeanMs | null;
}

export type AttemptPhaseMeanMs = Record<AttemptPhaseName, number> & { commandBeyondSleep: number; attempts: number };

export interface CpuMsPerTask {
  machine: number;
  coordinators: number;
  workers: number;
}

/** The workers' attempt phase totals so far, summed over their /metrics; null when a worker serves none. */
async function workerPhaseTotals(cluster: LocalCluster): Promise<AttemptPhaseTotals | null> {
  const sum = { attempts: 0, seconds: zeroPhaseSeconds() };
  for (const worker of cluster.workers.values()) {
    if (worker.httpAddress === null) return null;
    const response = await fetch(`http://${worker.httpAddress}/metrics`, { signal: AbortSignal.timeout(metricsFetchTimeoutMs) });
    if (!response.ok) throw new Error(`GET http://${worker.httpAddress}/metrics answered ${response.status}`);
    for (const sample of parseMetricSamples(await response.text())) {
      const phase = sample.labels['phase'] as AttemptPhaseName | undefined;
      if (sample.name === 'testudo_worker_attempts_timed_total') sum.attempts += sample.value;
      else if (sample.name === 'testudo_worker_attempt_phase_seconds_total' && phase !== undefined && phase in sum.seconds) sum.seconds[phase] += sample.value;
    }
  }
  return sum;
}

/** CPU seconds so far: the machine's, and the cluster's processes' by kind. */
async function cpuReading(cluster: LocalCluster): Promise<CpuMsPerTask> {
  // No leader named: every coordinator counts among the followers, and the two sum to all three.
  const byRole = await cpuSecondsByRole(cluster, '');
  return { machine: await readMachineBusySeconds(), coordinators: byRole.leader + byRole.followers, workers: byRole.workers };
}

/** The task durations the bench runs: seeded lognormal (mean 1 s) × scale, raised to minTaskSec, rounded to ms. */
export function makespanWorkload(tasks: number, seed: number, scale: number): { durations: number[]; previous: number[] } {
  const durations = heavyTailedDurations(tasks, seed).map((d) => Math.max(minTaskSec, Math.round(d * scale * 1000) / 1000));
  const previous = perturb(durations, seed).map((d) => Math.max(minTaskSec, Math.round(d * 1000) / 1000));
  return { durations, previous };
}

export function simulateStatic(durations: readonly number[], previous: readonly number[], slots: number) {
  const lb = lowerBound(durations, slots);
  const makespans = {
    roundRobin: makespan(roundRobin(durations.length, slots), durations),
    equalCount: makespan(equalCount(durations.length, slots), durations),
    timingStatic: makespan(timingStatic(previous, slots), durations),
  };
  // The dynamic scheduler without its overhead: greedy list scheduling in its queue order.
  const idealDynamic = {
    fifo: listSchedule(durations.map((_, i) => i), durations, slots),
    lpt: listSchedule(longestFirst(previous), durations, slots),
  };
  return { lowerBound: lb, makespans, idealDynamic };
}

/** A task that sleeps `seconds` then writes a one-case JUnit report (the process executor needs one). */
export function sleepTemplate(index: number, count: number, seconds: number): TaskTemplate {
  const s = seconds.toFixed(3);
  const report = `<testsuite name="bench" tests="1"><testcase classname="bench" name="t${index + 1}" time="${s}"/></testsuite>`;
  return {
    suite: 'bench-makespan',
    command: `sleep ${s} && printf '%s' '${report}' > "$TESTUDO_JUNIT"`,
    cwd: '.',
    // A distinct shard per task: the coordinator's timing history is keyed by suite + shard/shardCount + matrix.
    shard: index + 1,
    shardCount: count,
    files: [],
    splitByTimings: false,
    matrix: {},
    env: {},
    requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
    priority: 0,
    timeoutSec: Math.max(60, Math.ceil(seconds * 3) + 30),
    retries: 0,
    exclusive: false,
  };
}

export function splitSlots(slots: number, workers: number): number[] {
  return Array.from({ length: workers }, (_, i) => Math.floor(slots / workers) + (i < slots % workers ? 1 : 0));
}

export async function runMakespanBench(options: MakespanBenchOptions, log: (line: string) => void): Promise<MakespanBenchResult> {
  log = stamped(log);
  const { durations, previous } = makespanWorkload(options.tasks, options.seed, options.scale);
  const sim = simulateStatic(durations, previous, options.slots);
  const lb = sim.lowerBound;
  const total = durations.reduce((a, b) => a + b, 0);
  const workers = Math.min(options.slots, options.workers ?? Math.ceil(options.slots / slotsPerWorkerDefault));
  const perWorker = splitSlots(options.slots, workers);
  log(
    `${options.tasks} tasks, total work ${total.toFixed(1)} s, longest ${Math.max(...durations).toFixed(2)} s, ` +
      `lower bound ${lb.toFixed(2)} s on ${options.slots} slots (${workers} workers: ${perWorker.join('+')})`,
  );
  log(`static: roundRobin ${sim.makespans.roundRobin.toFixed(2)} s, equalCount ${sim.makespans.equalCount.toFixed(2)} s, timingStatic ${sim.makespans.timingStatic.toFixed(2)} s`);
  const base = {
    lowerBoundSec: round(lb),
    tasks: options.tasks,
    slots: options.slots,
    scale: options.scale,
    workers,
    slotsPerWorker: perWorker,
    totalWorkSec: round(total),
    longestTaskSec: round(Math.max(...durations)),
    makespansSec: { roundRobin: round(sim.makespans.roundRobin), equalCount: round(sim.makespans.equalCount), timingStatic: round(sim.makespans.timingStatic) },
    idealDynamicRatios: { fifo: round(sim.idealDynamic.fifo / lb), lpt: round(sim.idealDynamic.lpt / lb) },
  };
  const staticRatios = {
    roundRobin: round(sim.makespans.roundRobin / lb),
    equalCount: round(sim.makespans.equalCount / lb),
    timingStatic: round(sim.makespans.timingStatic / lb),
  };
  if (options.simulateOnly === true) {
    return {
      ...base,
      ratios: { ...staticRatios, dynamic: null, directPool: null },
      dynamicHistory: false,
      dynamicMakespanSec: null,
      dynamicClusterSec: null,
      dynamicBusySec: null,
      dispatchP50Ms: null,
      dispatchP99Ms: null,
      slotRefillP50Ms: null,
      slotRefillP99Ms: null,
      taskOverheadMeanMs: null,
      warmupSec: null,
      lostTasks: null,
      prefetchPerSlot: null,
      directPoolSec: null,
      dynamicOverDirect: null,
      cpuMsPerTask: null,
      cpuBusyShare: null,
      raftEntriesPerTask: null,
      attemptPhaseMeanMs: null,
    };
  }

  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-bench-makespan-')));
  let directPoolSec: number | null = null;
  if (options.directBaseline === true) {
    // The order the cluster's queue gives: longest first by the history when there is one, else as submitted.
    const order = options.history ? longestFirst(previous) : durations.map((_, i) => i);
    const direct = join(dataDir, 'direct');
    await mkdir(direct, { recursive: true });
    log(`direct baseline: the same ${durations.length} commands through a local pool of ${options.slots} processes`);
    const pool = await runDirectPool(durations.map((s, i) => sleepTemplate(i, durations.length, s).command), order, options.slots, direct);
    if (pool.failed > 0) throw new Error(`direct baseline: ${pool.failed} commands failed`);
    directPoolSec = pool.makespanSec;
    log(`direct baseline: ${directPoolSec.toFixed(2)} s`);
  }
  let cluster: LocalCluster | null = null;
  let client: TestudoClient | null = null;
  try {
    let prefetchPerSlot: number;
    ({ cluster, client, prefetchPerSlot } = await startBenchCluster(dataDir, workers, (i) => ({ slots: perWorker[i]!, executor: 'process' }), log, options.prefetchPerSlot));
    const submission = (name: string, seconds: readonly number[]): RunSubmission => ({
      name,
      setup: [],
      setupCacheKey: '',
      sourceDir: dataDir,
      tasks: seconds.map((s, i) => sleepTemplate(i, seconds.length, s)),
    });
    const realRun = async (name: string, seconds: readonly number[]) => {
      const runId = `${name}-${options.seed}-${Date.now()}`;
      const t0 = performance.now();
      await client!.submitRun(submission(name, seconds), { runId });
      let lastLog = 0;
      const end = await waitRunEnd(client!, runId, (s) => {
        const now = performance.now();
        if (now - lastLog > 5000) {
          lastLog = now;
          log(`  ${name} ${((now - t0) / 1000).toFixed(1)} s: ${s.counts.passed} passed, ${s.counts.running} running, ${s.counts.queued} queued`);
        }
      });
      const wallSec = (performance.now() - t0) / 1000;
      const view = await client!.getRun(runId);
      const bad = view.tasks.filter((t) => t.state !== 'passed');
      if (bad.length > 0) {
        const first = bad[0]!;
        const result = first.attempts[first.attempts.length - 1]?.result;
        log(`  ${name}: ${bad.length} tasks did not pass; first: ${first.state} ${first.reason} ${result?.infraClass ?? ''} ${result?.reason ?? ''}`);
      }
      log(`${name} ${end.state} in ${wallSec.toFixed(2)} s (wall, submit → end)`);
      return { view, end, wallSec };
    };

    let warmupSec: number | null = null;
    if (options.history) {
      log('warm-up run (the "previous run": the same tasks at ±20% durations) to build the timing history');
      const warmup = await realRun('bench-makespan-warmup', previous);
      warmupSec = warmup.wallSec;
      // Each member archives the finished run shortly after its end: that work belongs to the warm-up, not to the measured run.
      if (!(await waitArchived(memberDataDirs(cluster), warmup.view.runId, archiveWaitMsMax))) log(`the warm-up run was not archived on every member within ${archiveWaitMsMax / 1000} s; measuring anyway`);
    }
    log('measured run');
    const cpu0 = await cpuReading(cluster);
    const commit0 = await leaderCommitIndex(client);
    const phases0 = await workerPhaseTotals(cluster);
    const { view, end, wallSec } = await realRun('bench-makespan', durations);
    const cpu1 = await cpuReading(cluster);
    const phases1 = await workerPhaseTotals(cluster);
    const raftEntriesPerTask = round(((await leaderCommitIndex(client)) - commit0) / durations.length, 3);
    const perTask = (key: keyof CpuMsPerTask): number => round(((cpu1[key] - cpu0[key]) * 1000) / durations.length, 2);
    const cpuMsPerTask: CpuMsPerTask = { machine: perTask('machine'), coordinators: perTask('coordinators'), workers: perTask('workers') };
    const cpuBusyShare = round((cpu1.machine - cpu0.machine) / (wallSec * availableParallelism()), 3);
    log(`CPU ms per task ${JSON.stringify(cpuMsPerTask)}, busy share ${cpuBusyShare}, Raft entries per task ${raftEntriesPerTask}`);
    const starts: number[] = [];
    const ends: number[] = [];
    let overheadMs = 0;
    let measured = 0;
    for (const task of view.tasks) {
      for (const attempt of task.attempts) {
        if (attempt.result === undefined) continue;
        starts.push(attempt.result.startedAtMs);
        ends.push(attempt.result.finishedAtMs);
      }
      const result = task.attempts[0]?.result;
      // Tasks come back in submission order; the shard number names the task either way.
      const index = task.template.shard - 1;
      if (result !== undefined && durations[index] !== undefined) {
        overheadMs += result.finishedAtMs - result.startedAtMs - durations[index] * 1000;
        measured++;
      }
    }
    const attemptPhaseMeanMs = phaseMeans(phases0, phases1, durations);
    if (attemptPhaseMeanMs !== null) log(`attempt phases, mean ms: ${JSON.stringify(attemptPhaseMeanMs)}`);
    const dispatch = dispatchLatencies(view);
    const slotsById = new Map((await client.listWorkers()).map((w) => [w.workerId, w.slots]));
    const refill = slotRefillGaps(view, (id) => slotsById.get(id) ?? 1);
    return {
      ...base,
      ratios: { ...staticRatios, dynamic: round(wallSec / lb), directPool: directPoolSec === null ? null : round(directPoolSec / lb) },
      dynamicHistory: options.history,
      dynamicMakespanSec: round(wallSec),
      dynamicClusterSec: round((end.finishedAtMs - end.submittedAtMs) / 1000),
      dynamicBusySec: starts.length === 0 ? null : round((Math.max(...ends) - Math.min(...starts)) / 1000),
      dispatchP50Ms: quantile(dispatch, 0.5),
      dispatchP99Ms: quantile(dispatch, 0.99),
      slotRefillP50Ms: quantile(refill, 0.5),
      slotRefillP99Ms: quantile(refill, 0.99),
      taskOverheadMeanMs: measured === 0 ? null : round(overheadMs / measured, 1),
      warmupSec: warmupSec === null ? null : round(warmupSec),
      lostTasks: lostTasks(view),
      prefetchPerSlot,
      directPoolSec: directPoolSec === null ? null : round(directPoolSec),
      dynamicOverDirect: directPoolSec === null ? null : round(wallSec / directPoolSec),
      cpuMsPerTask,
      cpuBusyShare,
      raftEntriesPerTask,
      attemptPhaseMeanMs,
    };
  } finally {
    client?.close();
    await cluster?.stop();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}

/** The mean ms per attempt of each phase between two readings, and the command phase beyond the tasks' mean sleep. */
function phaseMeans(before: AttemptPhaseTotals | null, after: AttemptPhaseTotals | null, sleepsSec: readonly number[]): AttemptPhaseMeanMs | null {
  if (before === null || after === null) return null;
  const attempts = after.attempts - before.attempts;
  if (attempts <= 0) return null;
  const mean = (phase: AttemptPhaseName): number => round(((after.seconds[phase] - before.seconds[phase]) * 1000) / attempts, 1);
  const sleepMeanMs = (sleepsSec.reduce((a, b) => a + b, 0) * 1000) / sleepsSec.length;
  const means = zeroPhaseSeconds();
  for (const phase of attemptPhaseNames) means[phase] = mean(phase);
  return { ...means, commandBeyondSleep: round(means.command - sleepMeanMs, 1), attempts };
}
