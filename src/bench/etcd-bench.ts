import assert from 'node:assert/strict';
import { EtcdClient } from './etcd-client.js';
import { EtcdCluster } from './etcd-cluster.js';
import { round, runLoadWith, type LoadOptions, type LoadResult } from './load.js';
import { readProcessCpuSeconds } from './process-stats.js';
import { runLoadProcess, type RaftBenchOptions } from './raft.js';

/**
 * `bench raft`'s measurement on etcd: a fresh 3-member etcd cluster
 * (src/bench/etcd-cluster.ts), the same load process Testudo gets (`testudo
 * bench load --target etcd`: the same callers, keys and 256-byte values),
 * CPU read from /proc for each member around the timed writes, and at the
 * end a check that etcd holds exactly the writes the load saw acknowledged.
 */

export interface EtcdBenchOptions extends Omit<RaftBenchOptions, 'coordinators'> {
  /** The etcd binary (src/bench/etcd-cluster.ts findEtcdBinary). */
  readonly binary: string;
}

export interface EtcdBenchResult extends LoadResult {
  /** Term increases during the run (elections). */
  leaderChanges: number;
  /** Members' CPU (user + system) per committed timed write, µs: the cluster alone. */
  cpuUsPerWrite: number;
  /** The load process's own CPU per timed write, µs. */
  clientCpuUsPerWrite: number;
  /** CPU seconds during the timed writes: each member by name, and `client`. */
  cpuSecondsByProcess: Record<string, number>;
  /** Writes the load saw acknowledged (warm-up and timed). */
  ackedWrites: number;
  /** Writes etcd holds: the sum of every written key's version (each Put adds one). */
  committedWrites: number;
  /** The store's revision at the end minus at the start (one per committed Put). */
  revisionDelta: number;
}

/** Keys read back at the end to check their values are whole (the load's value, byte for byte the same across keys). */
export const etcdValueSampleKeys = 16;

export async function runEtcdBench(options: EtcdBenchOptions, log: (line: string) => void): Promise<EtcdBenchResult> {
  const cluster = new EtcdCluster({ binary: options.binary, members: 3 });
  try {
    await cluster.start();
    const { leader, statuses } = await cluster.waitForLeader();
    const first = statuses.get(leader.name)!;
    // The leader first: the load's client prefers it, as Testudo's client prefers the leader it learned.
    const endpoints = [`127.0.0.1:${leader.clientPort}`, ...cluster.endpoints().filter((e) => e !== `127.0.0.1:${leader.clientPort}`)];
    log(`etcd: leader ${leader.name} at term ${first.raftTerm}; driving ${options.clients} clients from a separate process`);
    const pids = cluster.pids();
    let begun: Promise<Map<string, number>> | null = null;
    let ended: Promise<Map<string, number>> | null = null;
    const load = await runLoadProcess(
      endpoints,
      options,
      {
        onTimedStart: () => {
          begun = readCpu(pids);
          begun.catch(() => undefined);
        },
        onResult: () => {
          ended = readCpu(pids);
          ended.catch(() => undefined);
        },
      },
      'etcd',
    );
    assert(begun !== null && ended !== null, 'the load process ended without its timed phase');
    const [start, end] = await Promise.all([begun as Promise<Map<string, number>>, ended as Promise<Map<string, number>>]);
    const cpuSecondsByProcess: Record<string, number> = {};
    for (const [name, seconds] of end) cpuSecondsByProcess[name] = round(seconds - (start.get(name) ?? 0));
    const membersCpuSeconds = Object.values(cpuSecondsByProcess).reduce((a, b) => a + b, 0);
    cpuSecondsByProcess['client'] = load.cpuSeconds;
    const after = await cluster.waitForLeader();
    const check = await readBack(endpoints, options.valueBytes);
    return {
      ...load,
      leaderChanges: after.statuses.get(after.leader.name)!.raftTerm - first.raftTerm,
      cpuUsPerWrite: load.ops === 0 ? 0 : round((membersCpuSeconds * 1e6) / load.ops),
      clientCpuUsPerWrite: load.ops === 0 ? 0 : round((load.cpuSeconds * 1e6) / load.ops),
      cpuSecondsByProcess,
      ackedWrites: options.warmupOps + load.ops,
      committedWrites: check.committedWrites,
      revisionDelta: check.revision - first.header.revision,
    };
  } finally {
    await cluster.stop();
  }
}

async function readCpu(pids: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const readings = new Map<string, number>();
  for (const [name, pid] of pids) readings.set(name, await readProcessCpuSeconds(pid));
  return readings;
}

/**
 * Reads back what the load wrote: the versions of every `warm…` and `k…`
 * key (keys only) summed, and a sample of values, each of which must be the
 * load's value (`valueBytes` long, the same bytes everywhere).
 */
export async function readBack(endpoints: readonly string[], valueBytes: number): Promise<{ committedWrites: number; revision: number }> {
  const client = new EtcdClient(endpoints);
  try {
    const endpoint = endpoints[0]!;
    let committedWrites = 0;
    let revision = 0;
    for (const prefix of ['warm', 'k']) {
      const range = await client.rangePrefix(endpoint, prefix, { keysOnly: true });
      assert(!range.more, `etcd: the read of ${prefix}… was cut short`);
      committedWrites += range.kvs.reduce((sum, kv) => sum + kv.version, 0);
      revision = Math.max(revision, range.header.revision);
    }
    const sample = await client.rangePrefix(endpoint, 'k', { keysOnly: false, limit: etcdValueSampleKeys });
    for (const kv of sample.kvs) {
      if (kv.value.length !== valueBytes || !kv.value.equals(sample.kvs[0]!.value)) {
        throw new Error(`etcd: key ${kv.key} holds ${kv.value.length} bytes that are not the load's ${valueBytes}-byte value`);
      }
    }
    return { committedWrites, revision };
  } finally {
    client.close();
  }
}

/** `testudo bench load --target etcd`: the load of src/bench/load.ts through the etcd client, leader first in `endpoints`. */
export async function runEtcdLoad(options: LoadOptions, onTimedStart: () => void): Promise<LoadResult> {
  const client = new EtcdClient(options.endpoints, { callTimeoutMs: 5000, totalTimeoutMs: 30_000 });
  try {
    return await runLoadWith((key, value) => client.put(key, value), options, onTimedStart);
  } finally {
    client.close();
  }
}
