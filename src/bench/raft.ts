import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestudoClient } from '../client/index.js';
import { LocalCluster, testudoCommand } from '../cluster/local-cluster.js';
import type { LoadResult } from './load.js';

export interface RaftBenchOptions {
  readonly clients: number;
  readonly ops: number;
  readonly valueBytes: number;
  readonly durationMs?: number;
  /** An existing cluster; without it a local 3-node cluster is started (and removed after). */
  readonly coordinators?: readonly string[];
  readonly warmupOps: number;
}

export interface RaftBenchResult extends LoadResult {
  /** Elections during the run (term increases seen by the cluster). */
  leaderChanges: number;
  cluster: 'local-3' | 'given';
}

/**
 * Starts (or uses) a cluster, runs the write load in a separate client
 * process (`testudo bench load`) so the client's CPU does not share the
 * coordinators' event loops, and reports throughput, latency and elections.
 */
export async function runRaftBench(options: RaftBenchOptions, log: (line: string) => void): Promise<RaftBenchResult> {
  let cluster: LocalCluster | null = null;
  let dataDir: string | null = null;
  try {
    let endpoints = options.coordinators;
    if (endpoints === undefined) {
      dataDir = await mkdtemp(join(tmpdir(), 'testudo-bench-'));
      cluster = new LocalCluster({ coordinators: 3, dataDir, baseHttpPort: null, logLevel: 'warn' });
      await cluster.start();
      endpoints = cluster.endpoints();
      log(`started a local 3-node cluster in ${dataDir}`);
    }
    const before = await waitForLeader(endpoints);
    log(`leader ${before.leaderId} at term ${before.term}; driving ${options.clients} clients from a separate process`);
    const load = await runLoadProcess(endpoints, options);
    const after = await waitForLeader(endpoints);
    return { ...load, leaderChanges: after.term - before.term, cluster: cluster === null ? 'given' : 'local-3' };
  } finally {
    await cluster?.stop();
    if (dataDir !== null) await rm(dataDir, { recursive: true, force: true });
  }
}

export async function waitForLeader(endpoints: readonly string[], timeoutMs = 30_000): Promise<{ leaderId: string; term: number }> {
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: timeoutMs, callTimeoutMs: 1000 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const status = await client.clusterStatus();
        const leader = status.members.find((m) => m.role === 'leader');
        if (leader !== undefined && status.members.every((m) => m.reachable && m.leaderId === leader.id)) return { leaderId: leader.id, term: leader.term };
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`no stable leader within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

async function runLoadProcess(endpoints: readonly string[], options: RaftBenchOptions): Promise<LoadResult> {
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
  ];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`load process exited with ${code}: ${last}`);
  return JSON.parse(last) as LoadResult;
}
