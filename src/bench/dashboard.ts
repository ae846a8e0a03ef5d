import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestudoClient } from '../client/index.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import type { RunSubmission, TaskTemplate } from '../model/index.js';
import { dashboardStreamsMax } from '../dashboard/limits.js';
import { noopTemplate } from './schedule.js';

/** What `testudo bench dashboard` measures (docs/dashboard.md, "Cost of open pages"). */
export interface DashboardBenchOptions {
  /** Event streams held open on the leader in the "with" phases. */
  readonly streams: number;
  /** Pairs of phases (without, with); the result is the median over them. */
  readonly repeats: number;
  readonly phaseMs: number;
  /** Runs submitted per second during every phase, each of `tasksPerRun` tasks. */
  readonly runsPerSecond: number;
  readonly tasksPerRun: number;
  readonly workers: number;
  readonly slots: number;
}

export const dashboardBenchDefaults: DashboardBenchOptions = { streams: 1000, repeats: 3, phaseMs: 8000, runsPerSecond: 4, tasksPerRun: 5, workers: 3, slots: 4 };

interface PhaseResult {
  readonly streams: number;
  /** Leader process CPU (user + system), percent of one core. */
  readonly leaderCpuPercent: number;
  /** Task queued → assigned (coordinator clock, from the replicated state), milliseconds. */
  readonly dispatchP50Ms: number;
  readonly dispatchP99Ms: number;
  readonly tasks: number;
  /** Event bytes the streams received in the phase (all streams together). */
  readonly streamBytes: number;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const clockTicksPerSecond = 100;
/** Streams opened at once. */
const streamsOpenBatch = 100;
/** Time to wait for a stream to open before a "with" phase. */
const streamsOpenTimeoutMs = 60_000;

/**
 * Starts a local cluster with noop workers, keeps a steady workload of
 * small runs going, and alternates phases without and with `streams` open
 * dashboard streams on the leader, measuring the leader's CPU and the tasks'
 * dispatch latency in each. Prints progress through `progress`.
 */
export async function runDashboardBench(options: DashboardBenchOptions, progress: (line: string) => void): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-bench-dashboard-'));
  const cluster = new LocalCluster({ coordinators: 3, dataDir: dir, baseHttpPort: 0, logLevel: 'warn' });
  let c: TestudoClient | null = null;
  try {
    await cluster.start();
    c = new TestudoClient({ endpoints: cluster.endpoints(), callTimeoutMs: 2000, totalTimeoutMs: 30_000 });
    for (let i = 1; i <= options.workers; i++) await cluster.startWorker(`w${i}`, { slots: options.slots, executor: 'noop' });
    await until(async () => (await c!.listWorkers()).filter((w) => w.connected).length >= options.workers, 60_000, 'workers to connect');
    const leaderId = await until(async () => (await c!.clusterStatus()).members.find((m) => m.role === 'leader')?.id, 30_000, 'a leader');
    const leader = cluster.member(leaderId);
    progress(`leader ${leaderId} (pid ${leader.child!.pid}), dashboard at http://${leader.httpAddress}/`);
    const phases: PhaseResult[] = [];
    for (let r = 0; r < options.repeats; r++) {
      for (const streams of [0, options.streams]) {
        const phase = await runPhase(c, leader.child!.pid!, leader.httpAddress!, streams, options);
        progress(`repeat ${r + 1}/${options.repeats}, ${streams} streams: cpu ${phase.leaderCpuPercent.toFixed(1)}%, dispatch p50 ${phase.dispatchP50Ms} ms, p99 ${phase.dispatchP99Ms} ms (${phase.tasks} tasks)`);
        phases.push(phase);
      }
    }
    const summary = (streams: number): Record<string, number> => {
      const of = phases.filter((p) => p.streams === streams);
      return {
        leaderCpuPercent: round(median(of.map((p) => p.leaderCpuPercent))),
        dispatchP50Ms: median(of.map((p) => p.dispatchP50Ms)),
        dispatchP99Ms: median(of.map((p) => p.dispatchP99Ms)),
        tasksPerPhase: median(of.map((p) => p.tasks)),
        streamBytesPerSecond: Math.round(median(of.map((p) => p.streamBytes)) / (options.phaseMs / 1000)),
      };
    };
    const without = summary(0);
    const withStreams = summary(options.streams);
    return {
      bench: 'dashboard',
      options,
      without,
      with: withStreams,
      extraLeaderCpuPercent: round(withStreams['leaderCpuPercent']! - without['leaderCpuPercent']!),
      extraDispatchP50Ms: withStreams['dispatchP50Ms']! - without['dispatchP50Ms']!,
      phases,
    };
  } finally {
    c?.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function runPhase(client: TestudoClient, pid: number, httpAddress: string, streams: number, options: DashboardBenchOptions): Promise<PhaseResult> {
  const open = await openStreams(httpAddress, streams);
  try {
    // Let the streams' first snapshots go out before measuring.
    await sleep(500);
    const bytesBefore = open.bytes();
    const cpuBefore = await processCpuTicks(pid);
    const startedAt = Date.now();
    const runIds: string[] = [];
    const submitting: Promise<void>[] = [];
    const intervalMs = 1000 / options.runsPerSecond;
    for (let k = 0; Date.now() - startedAt < options.phaseMs; k++) {
      submitting.push(client.submitRun(noopRun(`bench-${startedAt}-${k}`, options.tasksPerRun)).then((r) => void runIds.push(r.runId)));
      await sleep(Math.max(0, startedAt + (k + 1) * intervalMs - Date.now()));
    }
    const elapsedMs = Date.now() - startedAt;
    const cpuTicks = (await processCpuTicks(pid)) - cpuBefore;
    const streamBytes = open.bytes() - bytesBefore;
    await Promise.all(submitting);
    const waits: number[] = [];
    for (const runId of runIds) {
      const run = await until(async () => {
        const view = await client.getRun(runId);
        return view.state === 'running' ? undefined : view;
      }, 60_000, `run ${runId} to end`);
      for (const task of run.tasks) {
        const first = task.attempts[0];
        if (first !== undefined) waits.push(first.assignedAtMs - task.queuedAtMs);
      }
    }
    waits.sort((a, b) => a - b);
    return {
      streams: open.count(),
      leaderCpuPercent: ((cpuTicks / clockTicksPerSecond) * 100_000) / elapsedMs,
      dispatchP50Ms: percentile(waits, 0.5),
      dispatchP99Ms: percentile(waits, 0.99),
      tasks: waits.length,
      streamBytes,
    };
  } finally {
    open.close();
  }
}

/** Holds `count` event streams open on the coordinator, counting the bytes they receive (without parsing). */
async function openStreams(httpAddress: string, count: number): Promise<{ bytes(): number; count(): number; close(): void }> {
  let bytes = 0;
  let ok = 0;
  const requests: ClientRequest[] = [];
  const openOne = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const req = request(`http://${httpAddress}/api/dashboard/events`, { agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode === 200) ok++;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('error', () => undefined);
        resolve();
      });
      req.setTimeout(streamsOpenTimeoutMs, () => reject(new Error('a dashboard stream did not open in time')));
      req.on('error', reject);
      req.end();
      requests.push(req);
    });
  // In batches, so that the listen backlog never overflows.
  for (let opened = 0; opened < count; opened += streamsOpenBatch) {
    await Promise.all(Array.from({ length: Math.min(streamsOpenBatch, count - opened) }, openOne));
  }
  const close = (): void => requests.forEach((r) => r.destroy());
  if (ok < count) {
    close();
    throw new Error(`only ${ok} of ${count} dashboard streams opened (the cap is ${dashboardStreamsMax})`);
  }
  return { bytes: () => bytes, count: () => ok, close };
}

function noopRun(name: string, tasks: number): RunSubmission {
  const template = (k: number): TaskTemplate => ({ ...noopTemplate(), suite: 'bench', shard: k, shardCount: tasks });
  return { name, setup: [], setupCacheKey: '', sourceDir: tmpdir(), tasks: Array.from({ length: tasks }, (_, i) => template(i + 1)) };
}

/** utime + stime of a process, in clock ticks (Linux /proc). */
async function processCpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state: utime and stime are the 12th and 13th of those.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch {
      // retried until the deadline
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
