import { randomUUID } from 'node:crypto';
import { EtcdClient } from './etcd-client.js';
import { EtcdCluster, type EtcdMember } from './etcd-cluster.js';
import { DrillWriter, runFailoverDrill, type DrillResult } from './failover-drill.js';
import { quantile, round } from './load.js';

/**
 * `testudo drill failover --compare etcd`: the kv drill's kill mode
 * (src/bench/failover-drill.ts) on Testudo's local cluster, then the same
 * drill on a local 3-member etcd cluster: the same light write load (one
 * write started every `writeIntervalMs`, each retried on every endpoint with
 * the same short attempts), the leader (found by Maintenance/Status) killed
 * with SIGKILL, the time from the kill to the first commit of a write started
 * after it, the member started again and the cluster settled before the next
 * round; at the end every acknowledged write is read back.
 */

export interface FailoverCompareOptions {
  readonly rounds: number;
  readonly writeIntervalMs: number;
  readonly roundTimeoutMs: number;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly dataDir?: string;
  readonly etcdBinary: string;
}

/** The kill drill's figures, as Testudo's drill reports them (no phases: etcd logs no state lines the drill reads). */
export interface EtcdDrillResult extends Omit<DrillResult, 'mode' | 'phases' | 'phasesByRound' | 'refusedWrites' | 'refusedWritesByRound'> {
  mode: 'kill';
  /** Times a polled member named a different leader than the poll before, outside the kills' rounds. */
  leaderChangesOutsideKills: number;
}

/** A side whose drill stopped before its end (no stable leader, no settling): what stopped it. */
export interface DrillFailure {
  error: string;
}

export interface FailoverCompareResult {
  testudo: DrillResult | DrillFailure;
  etcd: EtcdDrillResult;
  /** Testudo / etcd; null when Testudo's drill did not finish. */
  ratios: { p50: number; p99: number } | null;
}

/** Attempts of the drill's writes: as src/bench/failover-drill.ts's Writer (the drill measures the cluster, not the client's patience). */
export const drillRetry = { callTimeoutMs: 150, totalTimeoutMs: 30_000, backoffBaseMs: 5, backoffMaxMs: 25 } as const;
/** How far (log entries) a member may trail the leader for the cluster to count as settled. */
export const settledLagEntriesMax = 16;
/** How often the leader watch asks every member whom it follows. */
export const leaderPollIntervalMs = 100;

export async function runFailoverCompare(options: FailoverCompareOptions, log: (line: string) => void): Promise<FailoverCompareResult> {
  log(`testudo: ${options.rounds} leader kills`);
  // A drill that stops (a cluster with no stable leader on a starved machine) is reported, and etcd's still runs.
  const testudo: DrillResult | DrillFailure = await runFailoverDrill(
    {
      rounds: options.rounds,
      mode: 'kill',
      coordinators: 3,
      writeIntervalMs: options.writeIntervalMs,
      roundTimeoutMs: options.roundTimeoutMs,
      tickMs: options.tickMs,
      electionTicks: options.electionTicks,
      dataDir: options.dataDir,
    },
    log,
  ).catch((error: unknown) => {
    log(`testudo: the drill stopped: ${(error as Error).message}`);
    return { error: (error as Error).message };
  });
  log(`etcd: ${options.rounds} leader kills`);
  const etcd = await runEtcdFailoverDrill(options, log);
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : round(a / b));
  const ratios = 'error' in testudo ? null : { p50: ratio(testudo.p50Ms, etcd.p50Ms), p99: ratio(testudo.p99Ms, etcd.p99Ms) };
  return { testudo, etcd, ratios };
}

export async function runEtcdFailoverDrill(options: Pick<FailoverCompareOptions, 'rounds' | 'writeIntervalMs' | 'roundTimeoutMs' | 'etcdBinary'>, log: (line: string) => void): Promise<EtcdDrillResult> {
  const cluster = new EtcdCluster({ binary: options.etcdBinary, members: 3 });
  const writer = new DrillWriter(options.writeIntervalMs, `drill/${randomUUID().slice(0, 8)}/`);
  const watch = new LeaderWatch(cluster);
  try {
    await cluster.start();
    const first = await cluster.waitForLeader();
    const firstTerm = first.statuses.get(first.leader.name)!.raftTerm;
    const etcd = new EtcdClient(cluster.endpoints(), drillRetry);
    writer.start({ put: (key, value) => etcd.put(key, Buffer.from(value)), close: () => etcd.close() });
    watch.start();
    const failoverMs: number[] = [];
    let failedRounds = 0;
    let leader: EtcdMember = first.leader;
    for (let r = 1; r <= options.rounds; r++) {
      watch.pause();
      const t0 = process.hrtime.bigint();
      await cluster.kill(leader.name);
      const ack = await writer.firstAckStartedAfter(t0, options.roundTimeoutMs);
      if (ack === null) failedRounds++;
      failoverMs.push(ack === null ? options.roundTimeoutMs : round(Number(ack.ackNs - t0) / 1e6));
      const killed = leader.name;
      cluster.restart(killed);
      leader = await waitSettled(cluster);
      await watch.resume();
      log(`etcd round ${r}/${options.rounds}: kill -9 leader ${killed} → first write after ${failoverMs[failoverMs.length - 1]} ms; leader now ${leader.name}`);
    }
    await writer.stop();
    watch.pause();
    const last = await cluster.waitForLeader();
    const lastTerm = last.statuses.get(last.leader.name)!.raftTerm;
    const lostWrites = await countLost(cluster.endpoints(), writer);
    const sorted = [...failoverMs].sort((a, b) => a - b);
    return {
      mode: 'kill',
      rounds: options.rounds,
      p50Ms: round(quantile(sorted, 0.5)),
      p99Ms: round(quantile(sorted, 0.99)),
      maxMs: round(sorted[sorted.length - 1] ?? 0),
      lostWrites,
      spuriousElections: Math.max(0, lastTerm - firstTerm - options.rounds),
      leaderChangesOutsideKills: watch.changes,
      ackedWrites: writer.acks.length,
      failedRounds,
      failoverMs,
    };
  } finally {
    watch.close();
    await writer.stop();
    await cluster.stop();
  }
}

/** Waits until every member runs, names one leader and trails its applied index by a few entries at most; returns the leader. */
async function waitSettled(cluster: EtcdCluster, timeoutMs = 30_000): Promise<EtcdMember> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { leader, statuses } = await cluster.waitForLeader(Math.max(1, deadline - Date.now()));
    const top = statuses.get(leader.name)!.raftIndex;
    if (statuses.size === cluster.members.length && [...statuses.values()].every((s) => top - s.raftAppliedIndex <= settledLagEntriesMax)) return leader;
    if (Date.now() > deadline) throw new Error(`etcd did not settle within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function countLost(endpoints: readonly string[], writer: DrillWriter): Promise<number> {
  const client = new EtcdClient(endpoints);
  try {
    const range = await client.rangePrefix(endpoints[0]!, writer.prefix, { keysOnly: false });
    const seen = new Map(range.kvs.map((kv) => [kv.key, kv.value.toString()]));
    return writer.acks.filter((a) => seen.get(writer.key(a.seq)) !== String(a.seq)).length;
  } finally {
    client.close();
  }
}

/**
 * Counts changes of the leader a member names, polled every
 * {@link leaderPollIntervalMs} while not paused (the drill pauses it from a
 * kill until the cluster has settled again, so only changes nobody caused
 * are counted).
 */
class LeaderWatch {
  changes = 0;
  private client: EtcdClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private last = new Map<string, string>();
  private polling: Promise<void> = Promise.resolve();

  constructor(private readonly cluster: EtcdCluster) {}

  start(): void {
    this.client ??= new EtcdClient(this.cluster.endpoints());
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.poll());
    }, leaderPollIntervalMs);
  }

  pause(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.last.clear();
  }

  async resume(): Promise<void> {
    await this.polling;
    this.last.clear();
    this.start();
  }

  private async poll(): Promise<void> {
    const client = this.client;
    if (this.timer === null || client === null) return;
    for (const m of this.cluster.members) {
      if (m.child === null) continue;
      const status = await client.status(`127.0.0.1:${m.clientPort}`, 500).catch(() => null);
      if (status === null || this.timer === null) continue;
      const before = this.last.get(m.name);
      if (before !== undefined && before !== status.leader) this.changes++;
      this.last.set(m.name, status.leader);
    }
  }

  close(): void {
    this.pause();
    this.client?.close();
    this.client = null;
  }
}
