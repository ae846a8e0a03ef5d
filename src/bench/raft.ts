import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestudoClient } from '../client/index.js';
import { LocalCluster, testudoCommand } from '../cluster/local-cluster.js';
import type { ReadMode } from '../raft/index.js';
import { traceFlushMs } from '../common/trace.js';
import { summarizeCommitTrace, type CommitTraceSummary } from './commit-trace.js';
import { readTraceDir } from './dispatch-trace.js';
import { timedPhaseLine, type LoadOp, type LoadResult } from './load.js';
import { ClusterNotSettledError, describeError, describeStatus } from './settle.js';
import { fetchLoopReading, quantileBetween, readProcessCpuSeconds, readThreadCpuSeconds, type LoopReading } from './process-stats.js';

export interface RaftBenchOptions {
  readonly clients: number;
  readonly ops: number;
  readonly valueBytes: number;
  readonly durationMs?: number;
  /** An existing cluster; without it a local 3-node cluster is started (and removed after). */
  readonly coordinators?: readonly string[];
  readonly warmupOps: number;
  /** 'put' (default) times writes; 'get' times linearizable reads of keys the warm-up wrote. */
  readonly op?: LoadOp;
  /** The local cluster's read mode (`--read-mode`; default the coordinator's, safe). */
  readonly readMode?: ReadMode;
  /** Longest wait for a stable leader before and after the writes (default leaderWaitMsDefault); past it ClusterNotSettledError. */
  readonly leaderWaitMs?: number;
  /**
   * Keep the local cluster's data and coordinator logs here, logged at info
   * (every role change is a `raft-state` line: how each election began);
   * default a temporary directory, logged at warn and removed afterwards.
   */
  readonly dataDir?: string;
  /**
   * One client's writes on the local cluster only: start the coordinators
   * and the load process with TESTUDO_TRACE_DIR set to this new or empty
   * directory (src/common/trace.ts), and cut each timed write into phases
   * (`commitTrace`; src/bench/commit-trace.ts).
   */
  readonly traceDir?: string;
  /** The load's write batching (LoadOptions.batchWrites); default true. */
  readonly batchWrites?: boolean;
}

export interface RaftBenchResult extends LoadResult {
  /** Elections during the run (term increases seen by the cluster). */
  leaderChanges: number;
  cluster: 'local-3' | 'given';
  /** What was timed: writes ('put') or linearizable reads ('get'). */
  op: LoadOp;
  /** The local cluster's read mode; null for a given cluster (its setting is not ours to know). */
  readMode: ReadMode | null;
  /**
   * CPU (user + system) per timed operation (a committed write, or a read
   * with op 'get'), in µs, summed over every
   * coordinator and the client process during the timed writes. Null for a
   * given cluster (its processes are not ours to read).
   */
  cpuUsPerWrite: number | null;
  /** CPU seconds during the timed writes, per process: each coordinator by id, and `client`. */
  cpuSecondsByProcess: Record<string, number>;
  /** Per coordinator (local cluster only): its event loop and GC during the timed writes. */
  eventLoop: Record<string, EventLoopFigures>;
  /** With `traceDir`: each timed write cut into phases from the traces; otherwise absent. */
  commitTrace?: CommitTraceSummary;
}

export interface EventLoopFigures {
  /** 99th percentile of the lag probe (testudo_event_loop_lag_seconds), interpolated within its bucket. */
  lagP99Ms: number;
  /** Largest lag the probe saw (testudo_event_loop_lag_max_seconds polled; its window reaches up to 4 s before the timed writes). */
  lagMaxMs: number;
  /** Time spent in GC pauses (nodejs_gc_duration_seconds, every kind). */
  gcPauseMs: number;
  gcCount: number;
  /** Writes to disk the coordinator synced, and the log entries they held on average (group commit). */
  syncedWrites: number;
  entriesPerSyncedWrite: number;
  /** CPU seconds by thread: `main` (JavaScript) and `other` (libuv's pool: LevelDB writes and fsyncs; V8's helpers: concurrent GC, compiler). */
  cpuSecondsByThread: Record<string, number>;
  /** New leaders this coordinator saw during the timed writes (testudo_raft_leader_changes_seen_total), and how far its term moved. */
  leaderChangesSeen: number;
  termChanges: number;
}

/** How often the lag max gauge is read during the writes: at most its window (metrics.ts loopLagMaxWindowMs), so no peak is missed. */
export const lagMaxPollIntervalMs = 1000;

/**
 * Starts (or uses) a cluster, runs the write load in a separate client
 * process (`testudo bench load`) so the client's CPU does not share the
 * coordinators' event loops, and reports throughput, latency and elections;
 * on a local cluster also CPU per write over every process and each
 * coordinator's event-loop lag and GC during the timed writes.
 */
export async function runRaftBench(options: RaftBenchOptions, log: (line: string) => void): Promise<RaftBenchResult> {
  let cluster: LocalCluster | null = null;
  let dataDir: string | null = null;
  const traceDir = options.traceDir;
  if (traceDir !== undefined) await checkTraceDir(traceDir, options);
  try {
    let endpoints = options.coordinators;
    if (endpoints === undefined) {
      const kept = options.dataDir;
      if (kept === undefined) dataDir = await mkdtemp(join(tmpdir(), 'testudo-bench-'));
      const env: Record<string, string> = options.readMode === undefined ? {} : { TESTUDO_READ_MODE: options.readMode };
      if (traceDir !== undefined) env['TESTUDO_TRACE_DIR'] = traceDir;
      cluster = new LocalCluster({ coordinators: 3, dataDir: kept ?? dataDir!, baseHttpPort: 0, logLevel: kept === undefined ? 'warn' : 'info', env });
      await cluster.start();
      endpoints = cluster.endpoints();
      log(`started a local 3-node cluster in ${kept ?? dataDir} (read mode ${options.readMode ?? 'safe'})`);
    }
    const before = await waitForLeader(endpoints, options.leaderWaitMs);
    log(`leader ${before.leaderId} at term ${before.term}; driving ${options.clients} clients from a separate process`);
    const meter = cluster === null ? null : new ClusterMeter(cluster);
    let begun: Promise<void> | null = null;
    let ended: Promise<ClusterFigures> | null = null;
    // The monotonic clock's µs (the clock of V8's .cpuprofile timestamps): a profile can be cut to this window (src/bench/cpu-profile.ts).
    const timedUs: [bigint, bigint] = [0n, 0n];
    // Both readings start as the load process reports its phases; their failures surface at the await below.
    const load = await runLoadProcess(endpoints, options, {
      onTimedStart: () => {
        timedUs[0] = process.hrtime.bigint() / 1000n;
        begun = meter?.begin() ?? null;
        begun?.catch(() => undefined);
      },
      onResult: () => {
        timedUs[1] = process.hrtime.bigint() / 1000n;
        ended = begun === null || meter === null ? null : begun.then(() => meter.end());
        ended?.catch(() => undefined);
      },
    }).finally(() => meter?.stopPolling());
    const figures = await (ended as Promise<ClusterFigures> | null);
    log(`timed writes: monotonic clock ${timedUs[0]}-${timedUs[1]} µs`);
    const after = await waitForLeader(endpoints, options.leaderWaitMs);
    const coordinatorsCpuSeconds = figures === null ? null : Object.values(figures.cpuSeconds).reduce((a, b) => a + b, 0);
    let commitTrace: CommitTraceSummary | undefined;
    if (traceDir !== undefined && cluster !== null) {
      // The load process has exited (its trace appended at exit); the coordinators append theirs every traceFlushMs.
      await new Promise((resolve) => setTimeout(resolve, 3 * traceFlushMs));
      const coordinatorPids = new Map<string, number>();
      for (const m of cluster.members.values()) if (m.child?.pid !== undefined) coordinatorPids.set(m.id, m.child.pid);
      commitTrace = summarizeCommitTrace(await readTraceDir(traceDir), coordinatorPids);
      log(`traced ${commitTrace.matched} of ${commitTrace.matched + commitTrace.unmatched} timed writes in ${traceDir}`);
    }
    return {
      ...load,
      leaderChanges: after.term - before.term,
      cluster: cluster === null ? 'given' : 'local-3',
      op: options.op ?? 'put',
      readMode: cluster === null ? null : (options.readMode ?? 'safe'),
      cpuUsPerWrite: coordinatorsCpuSeconds === null || load.ops === 0 ? null : round(((coordinatorsCpuSeconds + load.cpuSeconds) * 1e6) / load.ops),
      cpuSecondsByProcess: { ...(figures?.cpuSeconds ?? {}), client: load.cpuSeconds },
      eventLoop: figures?.eventLoop ?? {},
      ...(commitTrace === undefined ? {} : { commitTrace }),
    };
  } finally {
    await cluster?.stop();
    if (dataDir !== null) await rm(dataDir, { recursive: true, force: true });
  }
}

/** A trace directory `runRaftBench` may use: new or empty, for one client's writes on the local cluster. */
async function checkTraceDir(traceDir: string, options: RaftBenchOptions): Promise<void> {
  if (options.coordinators !== undefined || options.clients !== 1 || (options.op ?? 'put') !== 'put') {
    throw new RangeError('a write trace is for one client\'s writes on the local cluster (clients 1, op put, no given coordinators)');
  }
  await mkdir(traceDir, { recursive: true });
  if ((await readdir(traceDir)).length > 0) throw new RangeError(`trace directory ${traceDir} is not empty: the traces of other processes would mix with this run's`);
}

/** How long `bench raft` waits for a stable leader, before and after the writes, unless told (`--wait`). */
export const leaderWaitMsDefault = 30_000;

/**
 * Waits until one member leads and every member is reachable and follows
 * it; throws ClusterNotSettledError (exit 3 in the CLI) past `timeoutMs`,
 * saying what the last status showed.
 */
export async function waitForLeader(endpoints: readonly string[], timeoutMs = leaderWaitMsDefault): Promise<{ leaderId: string; term: number }> {
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: timeoutMs, callTimeoutMs: Math.min(1000, timeoutMs) });
  const deadline = Date.now() + timeoutMs;
  let lastSeen = '';
  let lastError: unknown;
  try {
    for (;;) {
      try {
        const status = await client.clusterStatus();
        const leader = status.members.find((m) => m.role === 'leader');
        if (leader !== undefined && status.members.every((m) => m.reachable && m.leaderId === leader.id)) return { leaderId: leader.id, term: leader.term };
        lastSeen = describeStatus(status);
      } catch (error) {
        lastError = error;
        lastSeen = describeError(error);
      }
      if (Date.now() > deadline) throw new ClusterNotSettledError('no-leader', endpoints, timeoutMs, lastSeen, { cause: lastError });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

export interface LoadPhases {
  /** The load process has finished its warm-up; its timed writes begin. */
  readonly onTimedStart: () => void;
  /** The load process printed its result (it exits next). */
  readonly onResult: () => void;
}

/** Runs `testudo bench load` against `endpoints` (Testudo's coordinators, or etcd's members with `target` etcd). */
export async function runLoadProcess(endpoints: readonly string[], options: RaftBenchOptions, phases: LoadPhases, target: 'testudo' | 'etcd' = 'testudo'): Promise<LoadResult> {
  const [command, prefix] = testudoCommand();
  const args = [
    ...prefix,
    'bench',
    'load',
    '--coordinators',
    endpoints.join(','),
    '--clients',
    String(options.clients),
    '--ops',
    String(options.ops),
    '--value-bytes',
    String(options.valueBytes),
    '--warmup-ops',
    String(options.warmupOps),
    ...(options.durationMs === undefined ? [] : ['--duration-ms', String(options.durationMs)]),
    ...(options.op === 'get' ? ['--op', 'get'] : []),
    ...(target === 'etcd' ? ['--target', 'etcd'] : []),
    ...(options.batchWrites === false && target === 'testudo' ? ['--no-batch-writes'] : []),
  ];
  const env = options.traceDir === undefined ? process.env : { ...process.env, TESTUDO_TRACE_DIR: options.traceDir };
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  let out = '';
  let lineStart = 0;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    for (let end = out.indexOf('\n', lineStart); end >= 0; end = out.indexOf('\n', lineStart)) {
      const line = out.slice(lineStart, end).trim();
      lineStart = end + 1;
      if (line === timedPhaseLine) phases.onTimedStart();
      else if (line.startsWith('{')) phases.onResult();
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`load process exited with ${code}: ${last}`);
  return JSON.parse(last) as LoadResult;
}

interface ClusterFigures {
  cpuSeconds: Record<string, number>;
  eventLoop: Record<string, EventLoopFigures>;
}

interface MemberReading {
  readonly cpuSeconds: number;
  readonly threads: ReadonlyMap<string, number>;
  readonly loop: LoopReading;
}

/**
 * Reads every coordinator of a local cluster at the start and the end of
 * the timed writes (CPU from /proc, lag and GC from /metrics) and polls the
 * lag max gauge in between.
 */
class ClusterMeter {
  private readonly cluster: LocalCluster;
  private start = new Map<string, MemberReading>();
  private readonly lagMaxSeconds = new Map<string, number>();
  private poller: NodeJS.Timeout | null = null;
  private polls: Promise<void> = Promise.resolve();

  constructor(cluster: LocalCluster) {
    this.cluster = cluster;
  }

  async begin(): Promise<void> {
    this.start = await this.readAll();
    this.poller = setInterval(() => {
      this.polls = this.polls.then(() => this.pollLagMax());
    }, lagMaxPollIntervalMs);
  }

  stopPolling(): void {
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
  }

  async end(): Promise<ClusterFigures> {
    this.stopPolling();
    await this.polls;
    const end = await this.readAll();
    const figures: ClusterFigures = { cpuSeconds: {}, eventLoop: {} };
    for (const [id, last] of end) {
      const first = this.start.get(id);
      if (first === undefined) throw new Error(`coordinator ${id} was not running when the timed writes began`);
      figures.cpuSeconds[id] = round(last.cpuSeconds - first.cpuSeconds);
      figures.eventLoop[id] = {
        lagP99Ms: round(quantileBetween(first.loop.lagBuckets, last.loop.lagBuckets, 0.99) * 1000),
        lagMaxMs: round(Math.max(this.lagMaxSeconds.get(id) ?? 0, last.loop.lagMaxSeconds) * 1000),
        gcPauseMs: round((last.loop.gcSeconds - first.loop.gcSeconds) * 1000),
        gcCount: last.loop.gcCount - first.loop.gcCount,
        syncedWrites: last.loop.syncedWrites - first.loop.syncedWrites,
        entriesPerSyncedWrite: round((last.loop.syncedEntries - first.loop.syncedEntries) / Math.max(1, last.loop.syncedWrites - first.loop.syncedWrites)),
        cpuSecondsByThread: Object.fromEntries([...last.threads].map(([name, seconds]) => [name, round(seconds - (first.threads.get(name) ?? 0))])),
        leaderChangesSeen: last.loop.leaderChangesSeen - first.loop.leaderChangesSeen,
        termChanges: last.loop.term - first.loop.term,
      };
    }
    return figures;
  }

  private async readAll(): Promise<Map<string, MemberReading>> {
    const readings = new Map<string, MemberReading>();
    for (const m of this.cluster.members.values()) {
      const pid = m.child?.pid;
      if (pid === undefined || m.httpAddress === null) continue;
      const [cpuSeconds, threads, loop] = await Promise.all([readProcessCpuSeconds(pid), readThreadCpuSeconds(pid), fetchLoopReading(m.httpAddress)]);
      readings.set(m.id, { cpuSeconds, threads, loop });
    }
    return readings;
  }

  private async pollLagMax(): Promise<void> {
    for (const m of this.cluster.members.values()) {
      if (m.child === null || m.httpAddress === null) continue;
      // A missed poll only lowers the max seen: the end reading fails loudly instead.
      const reading = await fetchLoopReading(m.httpAddress).catch(() => null);
      if (reading !== null) this.lagMaxSeconds.set(m.id, Math.max(this.lagMaxSeconds.get(m.id) ?? 0, reading.lagMaxSeconds));
    }
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
