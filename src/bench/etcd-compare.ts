import assert from 'node:assert/strict';
import { runEtcdBench, type EtcdBenchResult } from './etcd-bench.js';
import { round } from './load.js';
import { runRaftBench, type RaftBenchOptions, type RaftBenchResult } from './raft.js';

/**
 * `testudo bench raft --compare etcd`: Testudo's 3-node cluster and etcd's,
 * each started fresh, run back to back with the same load, `rounds` times,
 * in the order T E, E T, T E, … so that both see the same machine noise and
 * neither always goes first. Reports each side's medians, spread and
 * per-round figures, and the ratios Testudo / etcd of the medians.
 */

export interface CompareOptions extends Omit<RaftBenchOptions, 'coordinators'> {
  readonly rounds: number;
  readonly etcdBinary: string;
}

/** One side's figures in one round. CPU is per committed timed write, in µs. */
export interface SideRound {
  writesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** The cluster's processes only (3 coordinators, or 3 etcd members). */
  cpuUsPerWrite: number;
  /** The load process alone. */
  clientCpuUsPerWrite: number;
  leaderChanges: number;
  ops: number;
  errors: number;
}

export interface Side {
  /** Medians over the rounds. */
  writesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerWrite: number;
  clientCpuUsPerWrite: number;
  /** [min, max] over the rounds. */
  spread: { writesPerSec: [number, number]; p50Ms: [number, number]; cpuUsPerWrite: [number, number] };
  leaderChanges: number;
  rounds: SideRound[];
}

export interface Ratios {
  /** Testudo / etcd (the goal: at least 1.4). */
  writesPerSec: number;
  /** Testudo / etcd commit p50 (the goal: below 1). */
  p50: number;
  /** Testudo / etcd cluster CPU per write (lower is better). */
  cpuUsPerWrite: number;
}

export interface CompareResult {
  clients: number;
  valueBytes: number;
  testudo: Side;
  etcd: Side & { ackedWrites: number; committedWrites: number };
  /** From the medians. */
  ratios: Ratios;
  /** Per round, from that round's pair. */
  ratiosByRound: Ratios[];
}

export async function runRaftCompare(options: CompareOptions, log: (line: string) => void): Promise<CompareResult> {
  assert(options.rounds >= 1, 'a comparison needs at least one round');
  const testudo: SideRound[] = [];
  const etcd: SideRound[] = [];
  let ackedWrites = 0;
  let committedWrites = 0;
  const runTestudo = async (): Promise<void> => {
    testudo.push(testudoRound(await runRaftBench(options, log)));
  };
  const runEtcd = async (): Promise<void> => {
    const result = await runEtcdBench({ ...options, binary: options.etcdBinary }, log);
    ackedWrites += result.ackedWrites;
    committedWrites += result.committedWrites;
    etcd.push(etcdRound(result));
  };
  for (let r = 1; r <= options.rounds; r++) {
    const order = r % 2 === 1 ? [runTestudo, runEtcd] : [runEtcd, runTestudo];
    for (const run of order) await run();
    log(`round ${r}/${options.rounds}: testudo ${describe(testudo[r - 1]!)}; etcd ${describe(etcd[r - 1]!)}`);
  }
  const t = side(testudo);
  const e = side(etcd);
  return {
    clients: options.clients,
    valueBytes: options.valueBytes,
    testudo: t,
    etcd: { ...e, ackedWrites, committedWrites },
    ratios: ratios(t, e),
    ratiosByRound: testudo.map((x, i) => ratios(x, etcd[i]!)),
  };
}

function testudoRound(r: RaftBenchResult): SideRound {
  const clusterSeconds = Object.entries(r.cpuSecondsByProcess)
    .filter(([name]) => name !== 'client')
    .reduce((sum, [, seconds]) => sum + seconds, 0);
  return {
    writesPerSec: r.opsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerWrite: perWriteUs(clusterSeconds, r.ops),
    clientCpuUsPerWrite: perWriteUs(r.cpuSeconds, r.ops),
    leaderChanges: r.leaderChanges,
    ops: r.ops,
    errors: r.errors,
  };
}

function etcdRound(r: EtcdBenchResult): SideRound {
  return {
    writesPerSec: r.opsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerWrite: r.cpuUsPerWrite,
    clientCpuUsPerWrite: r.clientCpuUsPerWrite,
    leaderChanges: r.leaderChanges,
    ops: r.ops,
    errors: r.errors,
  };
}

function perWriteUs(seconds: number, ops: number): number {
  return ops === 0 ? 0 : round((seconds * 1e6) / ops);
}

function side(rounds: readonly SideRound[]): Side {
  const pick = (f: (r: SideRound) => number): number[] => rounds.map(f);
  const spread = (values: number[]): [number, number] => [Math.min(...values), Math.max(...values)];
  return {
    writesPerSec: median(pick((r) => r.writesPerSec)),
    p50Ms: median(pick((r) => r.p50Ms)),
    p99Ms: median(pick((r) => r.p99Ms)),
    cpuUsPerWrite: median(pick((r) => r.cpuUsPerWrite)),
    clientCpuUsPerWrite: median(pick((r) => r.clientCpuUsPerWrite)),
    spread: { writesPerSec: spread(pick((r) => r.writesPerSec)), p50Ms: spread(pick((r) => r.p50Ms)), cpuUsPerWrite: spread(pick((r) => r.cpuUsPerWrite)) },
    leaderChanges: pick((r) => r.leaderChanges).reduce((a, b) => a + b, 0),
    rounds: [...rounds],
  };
}

function ratios(t: Pick<SideRound, 'writesPerSec' | 'p50Ms' | 'cpuUsPerWrite'>, e: Pick<SideRound, 'writesPerSec' | 'p50Ms' | 'cpuUsPerWrite'>): Ratios {
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : round(a / b));
  return { writesPerSec: ratio(t.writesPerSec, e.writesPerSec), p50: ratio(t.p50Ms, e.p50Ms), cpuUsPerWrite: ratio(t.cpuUsPerWrite, e.cpuUsPerWrite) };
}

/** The median (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  assert(values.length > 0, 'median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return round(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
}

function describe(r: SideRound): string {
  return `${r.writesPerSec} writes/s, p50 ${r.p50Ms} ms, ${r.cpuUsPerWrite} µs CPU/write`;
}
