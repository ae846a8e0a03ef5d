import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AddressRoutes, DeadlineExceededError, TestudoClient } from '../client/index.js';
import { ChaosCluster } from '../failure-injection/chaos-cluster.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { readStateLines, roundPhases, summarisePhases, type PhasesReport, type RoundPhases } from './failover-phases.js';
import { quantile, round } from './load.js';
import { metricsFetchTimeoutMs, parseMetricSamples } from './process-stats.js';
import { waitForLeader } from './raft.js';
import { ClusterNotSettledError, describeError, describeStatus } from './settle.js';

/** How long the transfer mode waits for TransferLeader's answer. */
const transferCallTimeoutMs = 10_000;
/**
 * TransferLeader calls per round: the coordinator gives a transfer 5 s and
 * answers DEADLINE_EXCEEDED when the target did not take over by then (on a
 * starved machine its catch-up or election can be late); the round then asks
 * again, at most this many times in all.
 */
const transferAttemptsMax = 3;

export type DrillMode = 'kill' | 'pause' | 'transfer' | 'partition';

/** Modes that need to control the coordinators' processes or put proxies in front of them: local clusters only. */
export const localOnlyModes: readonly DrillMode[] = ['kill', 'pause', 'partition'];

export interface DrillOptions {
  readonly rounds: number;
  readonly mode: DrillMode;
  readonly coordinators: number;
  /**
   * Drill this running cluster (host:port,…) instead of starting one; only
   * the transfer mode can (the others need the processes or the links).
   */
  readonly endpoints?: readonly string[];
  /** A new write starts this often (the light load), whatever the others are doing. */
  readonly writeIntervalMs: number;
  /** Longest a round may wait for the first write after the fault. */
  readonly roundTimeoutMs: number;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  /** Keep the cluster's data and logs here (default: a temporary directory, removed afterwards). */
  readonly dataDir?: string;
  /** Longest wait for the cluster to settle, at the start and between rounds (default drillSettleTimeoutMs); past it ClusterNotSettledError. */
  readonly settleTimeoutMs?: number;
}

export interface DrillResult {
  mode: DrillMode;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lostWrites: number;
  /** Term increases beyond one per round (elections no fault called for). */
  spuriousElections: number;
  ackedWrites: number;
  failedRounds: number;
  /**
   * Writes the surviving coordinators answered with an error during the
   * rounds (no leader, not leader, timeouts: testudo_grpc_requests_total of
   * Put with a code other than OK), each one a failed attempt the drill's
   * client saw and retried. Null where not measured (the partition mode, a
   * running cluster, a /metrics read that failed). Attempts lost with the
   * killed leader itself are not counted.
   */
  refusedWrites: number | null;
  refusedWritesByRound: (number | null)[];
  failoverMs: number[];
  /** Where the rounds' time went (local clusters only; see failover-phases.ts). */
  phases: PhasesReport | null;
  phasesByRound: RoundPhases[];
}

/**
 * Longest the drill waits, between rounds, for one leader that every member
 * follows and for the members to catch up. Generous: on a loaded shared
 * machine a restarted coordinator can take tens of seconds to rejoin, and
 * the drill measures the failover, not the settling.
 */
export const drillSettleTimeoutMs = 120_000;

/** Writes in flight at once, at most (the load stays light even when a leader is gone). */
export const drillWritesInFlightMax = 256;

export interface Ack {
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
  if (options.endpoints !== undefined && localOnlyModes.includes(options.mode)) {
    throw new Error(`--mode ${options.mode} needs a local cluster (it controls the processes or the links); on a running cluster only --mode transfer works`);
  }
  const settleMs = options.settleTimeoutMs ?? drillSettleTimeoutMs;
  const drill = await DrillCluster.open(options);
  const writer = new DrillWriter(options.writeIntervalMs, `drill/${randomUUID().slice(0, 8)}/`);
  try {
    const endpoints = drill.endpoints;
    const first = await waitForLeader(endpoints, settleMs);
    // Short attempts and short backoff: the drill measures the cluster, not the client's patience.
    writer.start(
      new TestudoClient({
        endpoints: [...endpoints],
        routes: drill.clientRoutes,
        callTimeoutMs: 150,
        totalTimeoutMs: 30_000,
        retry: { attemptsMax: 1000, backoffBaseMs: 5, backoffMaxMs: 25 },
      }),
    );
    const rounds: RoundOutcome[] = [];
    let leader = first;
    for (let n = 1; n <= options.rounds; n++) {
      const outcome = await faultRound(drill, writer, options, leader.leaderId);
      rounds.push(outcome);
      leader = await waitForLeader(endpoints, settleMs);
      await waitCaughtUp(endpoints, settleMs);
      const refused = outcome.refused === null ? '' : `, ${outcome.refused} writes refused`;
      log(`round ${n}/${options.rounds}: ${options.mode} leader → first write after ${outcome.failoverMs} ms${describePhases(outcome.phases ?? undefined)}${refused}; leader now ${leader.leaderId} (term ${leader.term})`);
    }
    await writer.stop();
    const lostWrites = await countLost(endpoints, writer);
    const last = await waitForLeader(endpoints, settleMs);
    const failoverMs = rounds.map((r) => r.failoverMs);
    const refusedByRound = rounds.map((r) => r.refused);
    const phases = rounds.flatMap((r) => (r.phases === null ? [] : [r.phases]));
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
      failedRounds: rounds.filter((r) => r.timedOut).length,
      refusedWrites: refusedByRound.some((n) => n === null) ? null : refusedByRound.reduce<number>((a, b) => a + (b ?? 0), 0),
      refusedWritesByRound: refusedByRound,
      failoverMs,
      phases: phases.length === 0 ? null : summarisePhases(phases),
      phasesByRound: phases.map(({ splitOrRetry: _, ...p }) => p),
    };
  } finally {
    await writer.stop();
    await drill.close();
  }
}

interface RoundOutcome {
  /** From the fault to the first commit of a write started after it; the round timeout when none came. */
  readonly failoverMs: number;
  readonly timedOut: boolean;
  /** Writes the survivors refused during the round (see DrillResult.refusedWrites). */
  readonly refused: number | null;
  readonly phases: (RoundPhases & { splitOrRetry: boolean }) | null;
}

/** One round: the fault, the wait for the first write after it, the survivors' refusals and the phases, then the heal. */
async function faultRound(drill: DrillCluster, writer: DrillWriter, options: DrillOptions, leaderId: string): Promise<RoundOutcome> {
  const survivors = drill.httpAddressesExcept(leaderId);
  const refusedBefore = await refusedPuts(survivors);
  const t0 = process.hrtime.bigint();
  const faultWallMs = Date.now();
  const heal = await drill.inject(options.mode, leaderId);
  const ack = await writer.firstAckStartedAfter(t0, options.roundTimeoutMs);
  const failoverMs = ack === null ? options.roundTimeoutMs : round3(Number(ack.ackNs - t0) / 1e6);
  // Read before healing: the restarted victim's own lines would come after.
  const untilWallMs = Date.now();
  const refusedAfter = await refusedPuts(survivors);
  const phases = drill.logPaths.length === 0 ? null : roundPhases(await readStateLines(drill.logPaths), faultWallMs, untilWallMs, ack === null ? null : failoverMs);
  await heal();
  return { failoverMs, timedOut: ack === null, refused: refusedBefore === null || refusedAfter === null ? null : refusedAfter - refusedBefore, phases };
}

/**
 * The drilled cluster: a local one (through fault proxies for the partition
 * mode, which isolates the leader by disabling every proxied link into and
 * out of it) or a running one given by its endpoints.
 */
class DrillCluster {
  private constructor(
    readonly endpoints: string[],
    readonly clientRoutes: AddressRoutes,
    /** The coordinators' logs (local clusters), read for each round's phases. */
    readonly logPaths: string[],
    /** Each coordinator's HTTP address (local clusters outside the partition mode), for its /metrics. */
    private readonly httpAddresses: ReadonlyMap<string, string>,
    private readonly local: LocalCluster | null,
    private readonly chaos: ChaosCluster | null,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async open(options: DrillOptions): Promise<DrillCluster> {
    if (options.endpoints !== undefined) return new DrillCluster([...options.endpoints], AddressRoutes.none, [], new Map(), null, null, async () => undefined);
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-drill-')));
    const remove = async (): Promise<void> => {
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    };
    // Info, for the raft-state lines the phases are read from (a few per election; nothing per write).
    const timing = { coordinators: options.coordinators, dataDir, logLevel: 'info', tickMs: options.tickMs, electionTicks: options.electionTicks };
    const founders = Array.from({ length: options.coordinators }, (_, i) => `n${i + 1}`);
    if (options.mode === 'partition') {
      const chaos = new ChaosCluster({ ...timing, workers: 0, slots: 1, chaosHooks: false });
      await chaos.start();
      const endpoints = chaos.coordinatorIds().map((id) => chaos.cluster.member(id).grpcAddress);
      return new DrillCluster(endpoints, chaos.routesFrom('client'), founders.map((id) => chaos.cluster.member(id).logPath), new Map(), chaos.cluster, chaos, async () => {
        await chaos.stop();
        await remove();
      });
    }
    // HTTP for /metrics: the writes each survivor refused during a round.
    const cluster = new LocalCluster({ ...timing, baseHttpPort: 0 });
    await cluster.start();
    const http = new Map(founders.flatMap((id) => {
      const address = cluster.member(id).httpAddress;
      return address === null ? [] : [[id, address] as const];
    }));
    return new DrillCluster(cluster.endpoints(), AddressRoutes.none, founders.map((id) => cluster.member(id).logPath), http, cluster, null, async () => {
      await cluster.stop();
      await remove();
    });
  }

  /** The HTTP addresses of every coordinator but `victim`; empty when there are none to read. */
  httpAddressesExcept(victim: string): string[] {
    return [...this.httpAddresses].filter(([id]) => id !== victim).map(([, address]) => address);
  }

  /** Applies the mode's fault to the leader; resolves with what undoes it. */
  async inject(mode: DrillMode, leaderId: string): Promise<() => Promise<void>> {
    const local = this.local;
    if (mode === 'transfer') {
      // The call outlives the coordinator's own transfer timeout (5 s, src/coordinator/admin.ts):
      // a slow transfer then ends with the coordinator's answer, not a client deadline.
      const client = new TestudoClient({ endpoints: this.endpoints, totalTimeoutMs: transferCallTimeoutMs * 2, callTimeoutMs: transferCallTimeoutMs });
      try {
        for (let attempt = 1; ; attempt++) {
          const status = await client.clusterStatus();
          if (attempt > 1 && status.leaderId !== '' && status.leaderId !== leaderId) break;
          const to = status.members.find((m) => m.id !== leaderId && m.kind === 'voter')?.id;
          if (to === undefined) throw new Error('no other voter to transfer leadership to');
          try {
            await client.transferLeader(to);
            break;
          } catch (error) {
            if (!(error instanceof DeadlineExceededError) || attempt >= transferAttemptsMax) throw error;
          }
        }
      } finally {
        client.close();
      }
      return async () => undefined;
    }
    if (local === null) throw new Error(`--mode ${mode} needs a local cluster`);
    if (mode === 'kill') {
      await local.kill(leaderId, 'SIGKILL');
      return () => local.restart(leaderId);
    }
    if (mode === 'pause') {
      await local.pause(leaderId);
      return async () => local.resume(leaderId);
    }
    const chaos = this.chaos;
    if (chaos === null) throw new Error('the partition mode needs the fault proxies');
    const links = chaos.select((l) => l.from === leaderId || l.to === leaderId);
    await chaos.setEnabled(links, false);
    return () => chaos.setEnabled(links, true);
  }

  close(): Promise<void> {
    return this.cleanup();
  }
}

/** How far (log entries) a member may trail the leader for the cluster to count as caught up. */
export const caughtUpLagEntriesMax = 16;

/** Waits until every member answers and trails the leader by a few entries at most; ClusterNotSettledError past `timeoutMs`. */
export async function waitCaughtUp(endpoints: readonly string[], timeoutMs = 30_000): Promise<void> {
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: 5000, callTimeoutMs: 1000 });
  const deadline = Date.now() + timeoutMs;
  let lastSeen = '';
  try {
    for (;;) {
      const status = await client.clusterStatus().catch((error: unknown) => {
        lastSeen = describeError(error);
        return null;
      });
      if (status !== null) {
        if (status.members.every((m) => m.reachable && m.lag <= caughtUpLagEntriesMax && m.leaderId === status.leaderId && status.leaderId !== '')) return;
        lastSeen = describeStatus(status);
      }
      if (Date.now() > deadline) throw new ClusterNotSettledError('lagging', endpoints, timeoutMs, lastSeen);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

/**
 * Put calls the coordinators at `httpAddresses` answered with an error so
 * far (testudo_grpc_requests_total, every code but OK), summed; null when
 * there are none or one cannot be read.
 */
async function refusedPuts(httpAddresses: readonly string[]): Promise<number | null> {
  if (httpAddresses.length === 0) return null;
  let total = 0;
  for (const address of httpAddresses) {
    try {
      const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(metricsFetchTimeoutMs) });
      if (!response.ok) return null;
      for (const s of parseMetricSamples(await response.text())) {
        if (s.name === 'testudo_grpc_requests_total' && s.labels['method'] === 'Put' && s.labels['code'] !== 'OK') total += s.value;
      }
    } catch {
      return null;
    }
  }
  return total;
}

async function countLost(endpoints: readonly string[], writer: DrillWriter): Promise<number> {
  const client = new TestudoClient({ endpoints: [...endpoints], totalTimeoutMs: 30_000 });
  try {
    const seen = new Map<string, string>();
    for await (const item of client.listAll({ prefix: writer.prefix, pageSize: 5000 })) seen.set(item.key, new TextDecoder().decode(item.value));
    return writer.acks.filter((a) => seen.get(writer.key(a.seq)) !== String(a.seq)).length;
  } finally {
    client.close();
  }
}

function describePhases(p: RoundPhases | undefined): string {
  if (p === undefined) return '';
  const ms = (v: number | null): string => (v === null ? '?' : String(Math.round(v)));
  return ` (noticed ${ms(p.noticedMs)}, campaign ${ms(p.campaignMs)}, leader ${ms(p.electedMs)} ms)`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** What a drill's writer writes through: a client that retries a put until it commits (or gives up). */
export interface DrillTarget {
  put(key: string, value: string): Promise<unknown>;
  close(): void;
}

/** Starts one write every `intervalMs` through its target; Testudo's drill and etcd's (etcd-failover.ts) share it. */
export class DrillWriter {
  readonly acks: Ack[] = [];
  private timer: NodeJS.Timeout | null = null;
  private target: DrillTarget | null = null;
  private inFlight = new Set<Promise<void>>();
  private seq = 0;

  /** Keys are `<prefix><seq>`: one drill's writes, apart from any other's (or a running cluster's data). */
  constructor(
    private readonly intervalMs: number,
    readonly prefix: string,
  ) {}

  key(seq: number): string {
    return `${this.prefix}${String(seq).padStart(8, '0')}`;
  }

  start(target: DrillTarget): void {
    this.target = target;
    this.timer = setInterval(() => this.issue(), this.intervalMs);
  }

  private issue(): void {
    if (this.target === null || this.inFlight.size >= drillWritesInFlightMax) return;
    const seq = ++this.seq;
    const startNs = process.hrtime.bigint();
    const p = this.target.put(this.key(seq), String(seq)).then(
      () => {
        this.acks.push({ seq, startNs, ackNs: process.hrtime.bigint() });
      },
      () => undefined,
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** The earliest-committed write started at or after `t0`; null if none within `timeoutMs`. */
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
    this.target?.close();
    this.target = null;
  }
}
