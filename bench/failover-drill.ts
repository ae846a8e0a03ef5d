import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestudoClient } from '../src/client/index.js';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { quantile, round } from './load.js';
import { waitForLeader } from './raft.js';

export type DrillMode = 'kill' | 'pause' | 'transfer';

export interface DrillOptions {
  readonly rounds: number;
  readonly mode: DrillMode;
  readonly coordinators: number;
  /** A new write starts this often (the light load), whatever the others are doing. */
  readonly writeIntervalMs: number;
  /** Longest a round may wait for the first write after the fault. */
  readonly roundTimeoutMs: number;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  /** Keep the cluster's data and logs here (default: a temporary directory, removed afterwards). */
  readonly dataDir?: string;
}

export interface DrillResult {
  mode: DrillMode;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lostWrites: number;
  spuriousElections: number;
  ackedWrites: number;
  failedRounds: number;
  failoverMs: number[];
}

/** Writes in flight at once, at most (the load stays light even when a leader is gone). */
export const drillWritesInFlightMax = 256;

interface Ack {
  readonly seq: number;
  readonly startNs: bigint;
  readonly ackNs: bigint;
}

/**
 * Each round stops the leader (SIGKILL, SIGSTOP or a transfer) under a light
 * write load and measures the time from the fault to the first commit of a
 * write started after it. Between rounds the old leader is brought back and
 * the cluster settles. At the end every acknowledged write is read back.
 */
export async function runFailoverDrill(options: DrillOptions, log: (line: string) => void): Promise<DrillResult> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-drill-')));
  const cluster = new LocalCluster({
    coordinators: options.coordinators,
    dataDir,
    baseHttpPort: null,
    logLevel: 'warn',
    tickMs: options.tickMs,
    electionTicks: options.electionTicks,
  });
  const writer = new Writer(options.writeIntervalMs);
  try {
    await cluster.start();
    const endpoints = cluster.endpoints();
    const first = await waitForLeader(endpoints);
    writer.start(endpoints);
    const failoverMs: number[] = [];
    let failedRounds = 0;
    let leader = first;
    for (let round = 1; round <= options.rounds; round++) {
      const t0 = process.hrtime.bigint();
      await inject(cluster, options.mode, leader.leaderId, endpoints);
      const ack = await writer.firstAckStartedAfter(t0, options.roundTimeoutMs);
      if (ack === null) {
        failedRounds++;
        failoverMs.push(options.roundTimeoutMs);
      } else {
        failoverMs.push(round3(Number(ack.ackNs - t0) / 1e6));
      }
      await recover(cluster, options.mode, leader.leaderId);
      leader = await waitForLeader(endpoints);
      await waitCaughtUp(endpoints);
      log(`round ${round}/${options.rounds}: ${options.mode} ${leader.leaderId === '' ? '?' : 'leader'} → first write after ${failoverMs[failoverMs.length - 1]} ms; leader now ${leader.leaderId} (term ${leader.term})`);
    }
    await writer.stop();
    const lostWrites = await countLost(endpoints, writer.acks);
    const last = await waitForLeader(endpoints);
    const sorted = [...failoverMs].sort((a, b) => a - b);
    return {
      mode: options.mode,
      rounds: options.rounds,
      p50Ms: round(quantile(sorted, 0.5)),
      p99Ms: round(quantile(sorted, 0.99)),
      maxMs: round(sorted[sorted.length - 1] ?? 0),
      lostWrites,
      spuriousElections: Math.max(0, last.term - first.term - options.rounds),
      ackedWrites: writer.acks.length,
      failedRounds,
      failoverMs,
    };
  } finally {
    await writer.stop();
    await cluster.stop();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}

async function inject(cluster: LocalCluster, mode: DrillMode, leaderId: string, endpoints: readonly string[]): Promise<void> {
  if (mode === 'kill') return cluster.kill(leaderId, 'SIGKILL');
  if (mode === 'pause') return cluster.pause(leaderId);
  const to = [...cluster.members.keys()].find((id) => id !== leaderId)!;
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: 10_000 });
  try {
    await client.transferLeader(to);
  } finally {
    client.close();
  }
}

async function recover(cluster: LocalCluster, mode: DrillMode, oldLeader: string): Promise<void> {
  if (mode === 'kill') await cluster.restart(oldLeader);
  if (mode === 'pause') cluster.resume(oldLeader);
}

/** Waits until every member answers and trails the leader by a few entries at most. */
async function waitCaughtUp(endpoints: readonly string[], timeoutMs = 30_000): Promise<void> {
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: 5000, callTimeoutMs: 1000 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const status = await client.clusterStatus().catch(() => null);
      if (status !== null && status.members.every((m) => m.reachable && m.lag <= 16 && m.leaderId === status.leaderId && status.leaderId !== '')) return;
      if (Date.now() > deadline) throw new Error(`cluster did not settle within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

async function countLost(endpoints: readonly string[], acks: readonly Ack[]): Promise<number> {
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: 30_000 });
  try {
    const seen = new Map<string, string>();
    for await (const item of client.listAll({ prefix: 'drill/', pageSize: 5000 })) seen.set(item.key, new TextDecoder().decode(item.value));
    return acks.filter((a) => seen.get(key(a.seq)) !== String(a.seq)).length;
  } finally {
    client.close();
  }
}

function key(seq: number): string {
  return `drill/${String(seq).padStart(8, '0')}`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Starts one write every `intervalMs`, each retried by the client until it commits. */
class Writer {
  readonly acks: Ack[] = [];
  private timer: NodeJS.Timeout | null = null;
  private client: TestudoClient | null = null;
  private inFlight = new Set<Promise<void>>();
  private seq = 0;

  constructor(private readonly intervalMs: number) {}

  start(endpoints: readonly string[]): void {
    // Short attempts and short backoff: the drill measures the cluster, not the client's patience.
    this.client = new TestudoClient({
      endpoints: [...endpoints],
      callTimeoutMs: 150,
      totalTimeoutMs: 30_000,
      retry: { attemptsMax: 1000, backoffBaseMs: 5, backoffMaxMs: 25 },
    });
    this.timer = setInterval(() => this.issue(), this.intervalMs);
  }

  private issue(): void {
    if (this.client === null || this.inFlight.size >= drillWritesInFlightMax) return;
    const seq = ++this.seq;
    const startNs = process.hrtime.bigint();
    const p = this.client.put(key(seq), String(seq)).then(
      () => {
        this.acks.push({ seq, startNs, ackNs: process.hrtime.bigint() });
      },
      () => undefined,
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async firstAckStartedAfter(t0: bigint, timeoutMs: number): Promise<Ack | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const candidates = this.acks.filter((a) => a.startNs >= t0);
      if (candidates.length > 0) return candidates.reduce((a, b) => (b.ackNs < a.ackNs ? b : a));
      if (Date.now() > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.inFlight]);
    this.client?.close();
    this.client = null;
  }
}
