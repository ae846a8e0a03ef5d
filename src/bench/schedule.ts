import { access, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestudoClient } from '../client/index.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { reportArchivePath } from '../coordinator/runs-service.js';
import type { RunSubmission, RunSummary, RunView, TaskTemplate } from '../model/types.js';
import { traceFlushMs } from '../common/trace.js';
import { readTraceDir, summarizeDispatchTrace, type DispatchTraceSummary, type TracedDispatch } from './dispatch-trace.js';
import { readThreadCpuSeconds } from './process-stats.js';
import { waitForLeader } from './raft.js';
import { quantile, round } from './workload.js';

export interface ScheduleBenchOptions {
  readonly tasks: number;
  readonly workers: number;
  /** Slots per worker. */
  readonly slots: number;
  readonly seed: number;
  /** Single-task runs of the idle phase. */
  readonly idleRuns: number;
  /**
   * No-op tasks of an untimed run before the timed one (0: none). A fresh
   * cluster's processes run their first tasks in V8's interpreter and
   * baseline tiers and compile the hot paths meanwhile, on the same two
   * cores; a warm-up measures the steady state of a long-lived cluster.
   */
  readonly warmupTasks?: number;
  /** Keep the cluster's data (and coordinator logs) here instead of a removed temporary directory. */
  readonly dataDir?: string;
  /** Set the cluster's prefetchPerSlot before the run (default: the cluster's own). */
  readonly prefetchPerSlot?: number;
  /**
   * Start the cluster's processes with TESTUDO_TRACE_DIR set to this
   * directory (src/common/trace.ts), and cut each idle dispatch into phases
   * from their traces (`dispatchTrace`). Tracing costs the traced processes
   * a little: not for the figures of record.
   */
  readonly traceDir?: string;
}

export interface ScheduleBenchResult {
  tasksPerSec: number;
  /** Idle phase: a single-task run's queuedAtMs (the leader's stamp on its submit-run) → its attempt's start on the worker. */
  dispatchP50Ms: number;
  dispatchP99Ms: number;
  /** Idle phase: the slowest dispatch, and how many took over 10 ms (the bound on the p99). */
  dispatchMaxMs: number;
  dispatchOver10Ms: number;
  /**
   * Idle phase, each dispatch split at its attempt's assignedAtMs (the
   * leader's stamp on the assign): submit → assign proposed (the leader's
   * planning), then assign → start (the assign's commit, its delivery and
   * the worker's start). p50 and p99 of each.
   */
  dispatchPlanP50Ms: number;
  dispatchPlanP99Ms: number;
  dispatchCommitP50Ms: number;
  dispatchCommitP99Ms: number;
  loadedDispatchP50Ms: number;
  loadedDispatchP99Ms: number;
  /** Under load, worker clock: a slot's end → the next start on that worker (see slotRefillGaps). */
  slotRefillP50Ms: number;
  slotRefillP99Ms: number;
  lostTasks: number;
  tasks: number;
  workers: number;
  slots: number;
  seconds: number;
  /** Wall time of the submitRun call alone (deflate, Raft commit and apply of the run). */
  submitSec: number;
  /** Coordinator clock: run finishedAtMs − submittedAtMs. */
  clusterSeconds: number;
  idleRuns: number;
  /** Tasks of the untimed warm-up run (0: the timed run met a fresh cluster). */
  warmupTasks: number;
  dataDir: string;
  /** The cluster's prefetchPerSlot during the run. */
  prefetchPerSlot: number;
  /**
   * CPU milliseconds per task, from submit to the run's end, by role: the
   * leader, the two followers together, every worker together, this
   * benchmark's own process (the client), and their total. Which member
   * leads is read before the submit; `leaderChanged` says whether another
   * led at the end (then leader and followers are mixed up), and
   * `electionsDuringRun` how many terms began meanwhile.
   */
  cpuMsPerTask: CpuByRole;
  /** Total CPU ÷ (seconds × cores): near 1, the machine was the limit, not a wait. */
  cpuBusyShare: number;
  /** Raft entries the leader committed between the submit and the run's end, per task: how well the commits batched. */
  raftEntriesPerTask: number;
  leaderChanged: boolean;
  electionsDuringRun: number;
  /** Terms that began between the warm-up run's submit and the timed run's (0 without a warm-up). */
  electionsDuringWarmup: number;
  /** With `traceDir`: the idle dispatches cut into phases from the processes' traces (src/bench/dispatch-trace.ts); otherwise absent. */
  dispatchTrace?: DispatchTraceSummary;
}

export interface CpuByRole {
  leader: number;
  followers: number;
  workers: number;
  client: number;
  total: number;
  /** Of leader, followers and workers: their main (JavaScript) threads. */
  mainThread: number;
}

/**
 * CPU seconds used so far by the cluster's processes, by role, and by this
 * process (the client); `mainThread` is the part the coordinators' and
 * workers' JavaScript threads used (the rest: libuv's pool with LevelDB and
 * fsync, V8's GC and compiler threads).
 */
export async function cpuSecondsByRole(cluster: LocalCluster, leaderId: string): Promise<CpuByRole> {
  const out: CpuByRole = { leader: 0, followers: 0, workers: 0, client: 0, total: 0, mainThread: 0 };
  const add = async (role: 'leader' | 'followers' | 'workers', pid: number | undefined): Promise<void> => {
    if (pid === undefined) return;
    const threads = await readThreadCpuSeconds(pid).catch(() => new Map<string, number>());
    for (const [name, seconds] of threads) {
      out[role] += seconds;
      if (name === 'main') out.mainThread += seconds;
    }
  };
  for (const m of cluster.members.values()) await add(m.id === leaderId ? 'leader' : 'followers', m.child?.pid);
  for (const w of cluster.workers.values()) await add('workers', w.child?.pid);
  const own = process.cpuUsage();
  out.client = (own.user + own.system) / 1e6;
  out.total = out.leader + out.followers + out.workers + out.client;
  return out;
}

/**
 * Cuts the idle dispatches into phases from the traces in `traceDir`, read
 * once the processes have appended what they hold (they do every
 * traceFlushMs; the wait is twice that and more).
 */
async function traceIdleDispatches(cluster: LocalCluster, traceDir: string, dispatches: readonly TracedDispatch[], log: (line: string) => void): Promise<DispatchTraceSummary> {
  await new Promise((resolve) => setTimeout(resolve, 3 * traceFlushMs));
  const coordinatorPids = new Map<string, number>();
  for (const m of cluster.members.values()) if (m.child?.pid !== undefined) coordinatorPids.set(m.id, m.child.pid);
  const summary = summarizeDispatchTrace(await readTraceDir(traceDir), coordinatorPids, dispatches);
  log(`traced ${summary.matched} of ${dispatches.length} idle dispatches in ${traceDir}`);
  return summary;
}

/** Longest the benchmarks wait for a warm-up run's report archives before the timed run. */
export const archiveWaitMsMax = 30_000;

/** Whether every member (by data directory) wrote `runId`'s report archive within `waitMs`. */
export async function waitArchived(dataDirs: readonly string[], runId: string, waitMs: number): Promise<boolean> {
  const files = dataDirs.map((dir) => reportArchivePath(dir, runId));
  const deadline = performance.now() + waitMs;
  for (;;) {
    const present = await Promise.all(files.map((file) => access(file).then(() => true, () => false)));
    if (present.every(Boolean)) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The leader's commit index (a status round; 0 with no leader). */
export async function leaderCommitIndex(client: TestudoClient): Promise<number> {
  const status = await client.clusterStatus();
  return status.members.find((m) => m.role === 'leader')?.commitIndex ?? 0;
}

/** The coordinators' data directories. */
export function memberDataDirs(cluster: LocalCluster): string[] {
  return [...cluster.members.values()].map((m) => m.dataDir);
}

/** A local 3-coordinator cluster with `workers` workers, ready (leader elected, every worker registered and connected). */
export async function startBenchCluster(
  dataDir: string,
  workers: number,
  worker: { slots: number; executor: 'noop' | 'process' } | ((index: number) => { slots: number; executor: 'noop' | 'process' }),
  log: (line: string) => void,
  prefetchPerSlot?: number,
  env?: Readonly<Record<string, string>>,
): Promise<{ cluster: LocalCluster; client: TestudoClient; prefetchPerSlot: number }> {
  const cluster = new LocalCluster({ coordinators: 3, dataDir, basePort: 0, baseHttpPort: 0, logLevel: 'info', ...(env === undefined ? {} : { env }) });
  await cluster.start();
  const endpoints = cluster.endpoints();
  const leader = await waitForLeader(endpoints);
  log(`cluster up in ${dataDir}: leader ${leader.leaderId} (term ${leader.term})`);
  for (let i = 0; i < workers; i++) {
    const w = typeof worker === 'function' ? worker(i) : worker;
    // Each worker serves /metrics on a port of its own (bench makespan reads its attempt phases there).
    await cluster.startWorker(`w${i + 1}`, { slots: w.slots, executor: w.executor });
  }
  const client = new TestudoClient({ endpoints, callTimeoutMs: 60_000, totalTimeoutMs: 180_000 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const listed = await client.listWorkers();
    const ready = listed.filter((w) => w.state === 'active' && w.connected).length;
    if (ready >= workers) break;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${workers} workers registered within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  log(`${workers} workers registered`);
  const config = await client.breakerConfig(prefetchPerSlot === undefined ? undefined : { prefetchPerSlot });
  const prefetch = typeof config['prefetchPerSlot'] === 'number' ? config['prefetchPerSlot'] : 0;
  log(`prefetchPerSlot ${prefetch}`);
  return { cluster, client, prefetchPerSlot: prefetch };
}

/** Prefixes each progress line with the wall-clock time, to line it up with the coordinator logs. */
export function stamped(log: (line: string) => void): (line: string) => void {
  return (line) => log(`${new Date().toISOString().slice(11, 23)} ${line}`);
}

/** Waits for the run to end; returns its last summary. */
export async function waitRunEnd(client: TestudoClient, runId: string, onUpdate?: (summary: RunSummary) => void): Promise<RunSummary> {
  let last: RunSummary | null = null;
  for await (const summary of client.watchRun(runId)) {
    last = summary;
    onUpdate?.(summary);
  }
  if (last === null || last.state === 'running') throw new Error(`watch of ${runId} ended without the run ending`);
  return last;
}

/** A dispatch split at the first attempt's assignedAtMs (see ScheduleBenchResult.dispatchPlanP50Ms). */
export interface DispatchPhases {
  /** queuedAtMs → assignedAtMs, both the leader's stamps. */
  readonly planMs: number;
  /** assignedAtMs → the worker's startedAtMs. */
  readonly commitMs: number;
}

/** Each started task's dispatch, in two phases; their sum is what dispatchLatencies gives. */
export function dispatchPhases(run: RunView): DispatchPhases[] {
  const out: DispatchPhases[] = [];
  for (const task of run.tasks) {
    const attempt = task.attempts[0];
    if (attempt?.result !== undefined) out.push({ planMs: attempt.assignedAtMs - task.queuedAtMs, commitMs: attempt.result.startedAtMs - attempt.assignedAtMs });
  }
  return out;
}

/** A whole dispatch: the task's queue time → its first attempt's worker start (ms). */
function dispatchMs(d: DispatchPhases): number {
  return d.planMs + d.commitMs;
}

/** Per task: first attempt's worker start − the task's queue time (ms); tasks without a first result are skipped. */
export function dispatchLatencies(run: RunView): number[] {
  return dispatchPhases(run).map(dispatchMs);
}

/**
 * Slot refill gaps (ms, worker clock): on each worker, the k-th attempt start
 * beyond the worker's first `slots` starts is matched with the k-th attempt
 * end there (the end that freed a slot, in order), and the gap between them
 * is the scheduling round trip: result delivery and commit, planning, the
 * assignment's commit and its delivery to the worker. Starts while a slot sat
 * free for want of queued work would count too; in these benches the queue
 * never runs dry until the tail, so the median is the overhead.
 */
export function slotRefillGaps(run: RunView, slotsOf: (workerId: string) => number): number[] {
  const byWorker = new Map<string, { starts: number[]; ends: number[] }>();
  for (const task of run.tasks) {
    for (const attempt of task.attempts) {
      const r = attempt.result;
      if (r === undefined) continue;
      let w = byWorker.get(r.workerId);
      if (w === undefined) byWorker.set(r.workerId, (w = { starts: [], ends: [] }));
      w.starts.push(r.startedAtMs);
      w.ends.push(r.finishedAtMs);
    }
  }
  const gaps: number[] = [];
  for (const [workerId, w] of byWorker) {
    w.starts.sort((a, b) => a - b);
    w.ends.sort((a, b) => a - b);
    const slots = slotsOf(workerId);
    for (let k = slots; k < w.starts.length; k++) {
      const freedAt = w.ends[k - slots];
      if (freedAt !== undefined) gaps.push(w.starts[k]! - freedAt);
    }
  }
  return gaps;
}

/** Tasks that did not pass, plus tasks with other than exactly one counted (reported, non-infra) attempt. */
export function lostTasks(run: RunView): number {
  let lost = 0;
  for (const task of run.tasks) {
    if (task.state !== 'passed') lost++;
    const counted = task.attempts.filter((a) => a.result !== undefined && a.result.outcome !== 'infra-error').length;
    if (counted !== 1) lost++;
  }
  return lost;
}

export function noopTemplate(): TaskTemplate {
  return {
    suite: 'noop',
    command: 'true',
    cwd: '.',
    shard: 1,
    shardCount: 1,
    files: [],
    splitByTimings: false,
    matrix: {},
    env: {},
    requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
    priority: 0,
    timeoutSec: 60,
    retries: 0,
    exclusive: false,
  };
}

/**
 * Scheduler throughput and dispatch latency with no-op workers: one run of
 * `tasks` identical tasks (timed from submit to the run's end), then
 * `idleRuns` single-task runs one after another on the idle cluster.
 */
export async function runScheduleBench(options: ScheduleBenchOptions, log: (line: string) => void): Promise<ScheduleBenchResult> {
  log = stamped(log);
  if (options.traceDir !== undefined) {
    await mkdir(options.traceDir, { recursive: true });
    if ((await readdir(options.traceDir)).length > 0) throw new Error(`trace directory ${options.traceDir} is not empty: the traces of other processes would mix with this run's`);
  }
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-bench-schedule-')));
  let cluster: LocalCluster | null = null;
  let client: TestudoClient | null = null;
  try {
    let prefetchPerSlot: number;
    const env = options.traceDir === undefined ? undefined : { TESTUDO_TRACE_DIR: options.traceDir };
    ({ cluster, client, prefetchPerSlot } = await startBenchCluster(dataDir, options.workers, { slots: options.slots, executor: 'noop' }, log, options.prefetchPerSlot, env));
    const template = noopTemplate();
    const submission: RunSubmission = {
      name: `bench-schedule-${options.seed}`,
      setup: [],
      setupCacheKey: '',
      sourceDir: dataDir,
      tasks: Array.from({ length: options.tasks }, () => template),
    };
    const warmupTasks = options.warmupTasks ?? 0;
    const termBeforeWarmup = warmupTasks > 0 ? (await waitForLeader(cluster.endpoints())).term : 0;
    if (warmupTasks > 0) {
      log(`warm-up: ${warmupTasks} no-op tasks, untimed`);
      const warmupId = `bench-s${options.seed}-warmup-${Date.now()}`;
      await client.submitRun({ ...submission, name: `${submission.name}-warmup`, tasks: Array.from({ length: warmupTasks }, () => template) }, { runId: warmupId });
      const warm = await waitRunEnd(client, warmupId);
      if (warm.state !== 'passed') throw new Error(`the warm-up run ended ${warm.state}`);
      // Each member archives a finished run's report shortly after its end (runs-service.ts, ReportArchive): that work belongs to the warm-up, not to the timed run.
      const archived = await waitArchived(memberDataDirs(cluster), warmupId, archiveWaitMsMax);
      log(archived ? 'warm-up run archived on every member' : `the warm-up run was not archived on every member within ${archiveWaitMsMax / 1000} s; timing anyway`);
    }
    const runId = `bench-s${options.seed}-${Date.now()}`;
    log(`submitting ${options.tasks} no-op tasks to ${options.workers} workers × ${options.slots} slots`);
    const { leaderId, term: termBefore } = await waitForLeader(cluster.endpoints());
    const electionsDuringWarmup = warmupTasks > 0 ? termBefore - termBeforeWarmup : 0;
    if (electionsDuringWarmup > 0) log(`${electionsDuringWarmup} election(s) during the warm-up run`);
    const cpu0 = await cpuSecondsByRole(cluster, leaderId);
    const commit0 = await leaderCommitIndex(client);
    const t0 = performance.now();
    // The monotonic clock's µs (the clock of V8's .cpuprofile timestamps): a profile can be cut to this window (src/bench/cpu-profile.ts --window).
    const timedFromUs = process.hrtime.bigint() / 1000n;
    await client.submitRun(submission, { runId });
    const submitSec = (performance.now() - t0) / 1000;
    log(`submitted in ${submitSec.toFixed(2)} s`);
    let lastLog = 0;
    const end = await waitRunEnd(client, runId, (s) => {
      const now = performance.now();
      if (now - lastLog > 2000) {
        lastLog = now;
        log(`  ${((now - t0) / 1000).toFixed(1)} s: ${s.counts.passed} passed, ${s.counts.running} running, ${s.counts.queued} queued`);
      }
    });
    const seconds = (performance.now() - t0) / 1000;
    log(`timed run: monotonic clock ${timedFromUs}-${process.hrtime.bigint() / 1000n} µs`);
    const cpu1 = await cpuSecondsByRole(cluster, leaderId);
    const raftEntriesPerTask = round(((await leaderCommitIndex(client)) - commit0) / options.tasks, 3);
    const after = await waitForLeader(cluster.endpoints());
    const leaderChanged = after.leaderId !== leaderId;
    const electionsDuringRun = after.term - termBefore;
    const perTask = (key: keyof CpuByRole): number => round(((cpu1[key] - cpu0[key]) * 1000) / options.tasks, 3);
    const cpuMsPerTask: CpuByRole = { leader: perTask('leader'), followers: perTask('followers'), workers: perTask('workers'), client: perTask('client'), total: perTask('total'), mainThread: perTask('mainThread') };
    const cpuBusyShare = round((cpu1.total - cpu0.total) / (seconds * availableParallelism()), 3);
    log(`run ${end.state} after ${seconds.toFixed(2)} s; CPU ms per task ${JSON.stringify(cpuMsPerTask)}, busy share ${cpuBusyShare}, Raft entries per task ${raftEntriesPerTask}`);
    const g0 = performance.now();
    const run = await client.getRun(runId);
    const g1 = performance.now();
    const viewMb = Buffer.byteLength(JSON.stringify(run)) / 1e6;
    log(`getRun of ${run.tasks.length} tasks took ${((g1 - g0) / 1000).toFixed(2)} s (${viewMb.toFixed(1)} MB of JSON, built, stringified and deflated by the serving coordinator)`);
    const loaded = dispatchLatencies(run);
    const refill = slotRefillGaps(run, () => options.slots);
    const lost = lostTasks(run);

    if (options.idleRuns > 0) {
      // The same for the timed run's archives (about 0.3 s of CPU per member for 20,000 tasks): the idle phase's first dispatches measured them, not an idle cluster.
      const archived = await waitArchived(memberDataDirs(cluster), runId, archiveWaitMsMax);
      log(archived ? 'timed run archived on every member' : `the timed run was not archived on every member within ${archiveWaitMsMax / 1000} s; measuring the idle phase anyway`);
    }
    log(`idle phase: ${options.idleRuns} single-task runs, one after another`);
    const idleFromUs = process.hrtime.bigint() / 1000n;
    const idle: DispatchPhases[] = [];
    const traced: TracedDispatch[] = [];
    let idleLost = 0;
    for (let i = 0; i < options.idleRuns; i++) {
      const id = `bench-idle-${options.seed}-${i}-${Date.now()}`;
      await client.submitRun({ ...submission, name: `bench-idle-${i}`, tasks: [template] }, { runId: id });
      await waitRunEnd(client, id);
      const view = await client.getRun(id);
      idle.push(...dispatchPhases(view));
      for (const task of view.tasks) {
        const first = task.attempts[0];
        if (first?.result !== undefined) traced.push({ runId: id, attemptId: first.attemptId });
      }
      const lostHere = lostTasks(view);
      idleLost += lostHere;
      if (lostHere > 0) log(`  idle run ${id}: ${lostHere} lost`);
      if ((i + 1) % 50 === 0) log(`  ${i + 1} idle runs done`);
    }
    log(`idle phase: monotonic clock ${idleFromUs}-${process.hrtime.bigint() / 1000n} µs`);
    const idleTotals = idle.map(dispatchMs);
    const dispatchTrace = options.traceDir === undefined ? undefined : await traceIdleDispatches(cluster, options.traceDir, traced, log);
    return {
      tasksPerSec: round(options.tasks / seconds, 1),
      dispatchP50Ms: quantile(idleTotals, 0.5),
      dispatchP99Ms: quantile(idleTotals, 0.99),
      dispatchMaxMs: idleTotals.length === 0 ? Number.NaN : Math.max(...idleTotals),
      dispatchOver10Ms: idleTotals.filter((ms) => ms > 10).length,
      dispatchPlanP50Ms: quantile(idle.map((d) => d.planMs), 0.5),
      dispatchPlanP99Ms: quantile(idle.map((d) => d.planMs), 0.99),
      dispatchCommitP50Ms: quantile(idle.map((d) => d.commitMs), 0.5),
      dispatchCommitP99Ms: quantile(idle.map((d) => d.commitMs), 0.99),
      loadedDispatchP50Ms: quantile(loaded, 0.5),
      loadedDispatchP99Ms: quantile(loaded, 0.99),
      slotRefillP50Ms: quantile(refill, 0.5),
      slotRefillP99Ms: quantile(refill, 0.99),
      lostTasks: lost + idleLost,
      tasks: options.tasks,
      workers: options.workers,
      slots: options.slots,
      seconds: round(seconds),
      submitSec: round(submitSec),
      clusterSeconds: round((end.finishedAtMs - end.submittedAtMs) / 1000),
      idleRuns: options.idleRuns,
      warmupTasks,
      dataDir: options.dataDir ?? '',
      prefetchPerSlot,
      cpuMsPerTask,
      cpuBusyShare,
      raftEntriesPerTask,
      leaderChanged,
      electionsDuringRun,
      electionsDuringWarmup,
      ...(dispatchTrace === undefined ? {} : { dispatchTrace }),
    };
  } finally {
    client?.close();
    await cluster?.stop();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}
