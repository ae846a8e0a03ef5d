import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import type { RunSummary } from '../../src/model/index.js';
import { CliProcess, rerunsOf, writeDrillSpec } from '../../src/bench/run-failover-drill.js';
import { clientFor, stableLeader, startCluster, waitFor } from './harness.js';
import { startWorkers } from './runs-harness.js';

/**
 * The main job across a leader failover, on real processes: 3 coordinators,
 * 3 workers running shell tasks, a `testudo run` child process following the
 * run, and SIGKILL of the leader mid-run (then, in the second case, its
 * restart). The watch and the CLI must follow the run to its end and exit
 * with its code, no attempt may run again, and every worker must be back in
 * session with the new leader.
 */
describe('a run across a leader failover', () => {
  let cleanup: (() => Promise<void>) | null = null;
  const clients: TestudoClient[] = [];
  const processes: CliProcess[] = [];

  afterEach(async () => {
    for (const p of processes.splice(0)) p.kill();
    for (const c of clients.splice(0)) c.close();
    await cleanup?.();
    cleanup = null;
  });

  async function setUp(): Promise<{ cluster: LocalCluster; client: TestudoClient; dir: string }> {
    const started = await startCluster({ basePort: 0 });
    cleanup = started.cleanup;
    const client = clientFor(started.cluster, { totalTimeoutMs: 30_000 });
    clients.push(client);
    await startWorkers(started.cluster, client, 3, 2);
    return { cluster: started.cluster, client, dir: started.dir };
  }

  /** Starts `testudo run` on a spec of `passing` tasks (and `failing` ones) and waits until some are done. */
  async function startRun(cluster: LocalCluster, client: TestudoClient, dir: string, runId: string, failing: number): Promise<CliProcess> {
    const spec = await writeDrillSpec(dir, 36, 300, failing);
    const cli = new CliProcess(['run', '-f', spec, '--run-id', runId, '--coordinators', cluster.endpoints().join(','), '--wait', '20000', '--no-progress', '--report-dir', join(dir, 'reports')]);
    processes.push(cli);
    await waitFor('some tasks done and some running', async () => {
      const summary = (await client.listRuns()).find((r) => r.runId === runId);
      return summary !== undefined && summary.counts.passed >= 6 && summary.counts.running > 0;
    }, 60_000);
    return cli;
  }

  it('follows the run to its end across a kill -9 of the leader: the watch, the CLI (exit 1 for a failed run), no reruns, workers back', async () => {
    const { cluster, client, dir } = await setUp();
    const runId = 'it-failover-kill';
    const cli = await startRun(cluster, client, dir, runId, 1);
    const watched = collect(client.watchRun(runId));
    const sessionsBefore = await sessionsOpened(cluster);
    const killed = (await client.clusterStatus()).leaderId;
    await cluster.kill(killed, 'SIGKILL');

    // (a) the watch follows the run to its end
    const summaries = await watched.done;
    expect(summaries.at(-1)?.state).toBe('failed');
    expect(summaries.at(-1)?.counts).toMatchObject({ tasks: 37, passed: 36, failed: 1 });
    // (b) the CLI exits with the run's code, without hanging
    const outcome = await cli.outcome(1, Date.now() + 90_000);
    expect(outcome.hung, cli.output).toBe(false);
    expect(outcome.exitCode, cli.output).toBe(1);
    // (c) no attempt ran again because of the failover
    const run = await client.getRun(runId);
    expect(rerunsOf(run)).toBe(0);
    expect(run.tasks.flatMap((t) => t.attempts).filter((a) => a.state === 'lost')).toEqual([]);
    // (d) every worker opened a new session with the new leader
    const leader = (await stableLeader(client)).leaderId;
    expect(leader).not.toBe(killed);
    await workersBackWith(cluster, client, leader, sessionsBefore);
  });

  it('follows the run across a kill -9 and restart of the leader, also through a client that knows only the restarted coordinator', async () => {
    const { cluster, client, dir } = await setUp();
    const runId = 'it-failover-restart';
    const cli = await startRun(cluster, client, dir, runId, 0);
    const killed = (await client.clusterStatus()).leaderId;
    const solo = new TestudoClient({ endpoints: [cluster.member(killed).grpcAddress], totalTimeoutMs: 30_000, callTimeoutMs: 1000 });
    clients.push(solo);
    const watchedSolo = collect(solo.watchRun(runId));
    const watched = collect(client.watchRun(runId));
    await waitFor('the solo watch under way', () => watchedSolo.seen.length > 0);
    const sessionsBefore = await sessionsOpened(cluster);
    await cluster.kill(killed, 'SIGKILL');
    await cluster.restart(killed);

    for (const summaries of [await watched.done, await watchedSolo.done]) {
      expect(summaries.at(-1)?.state).toBe('passed');
      expect(summaries.at(-1)?.counts).toMatchObject({ tasks: 36, passed: 36 });
    }
    const outcome = await cli.outcome(0, Date.now() + 90_000);
    expect(outcome.hung, cli.output).toBe(false);
    expect(outcome.exitCode, cli.output).toBe(0);
    const run = await client.getRun(runId);
    expect(rerunsOf(run)).toBe(0);
    const leader = (await stableLeader(client, 3)).leaderId;
    await workersBackWith(cluster, client, leader, sessionsBefore);
  });
});

interface Collected {
  /** Every summary, once the watch has returned. */
  readonly done: Promise<RunSummary[]>;
  /** The summaries so far. */
  readonly seen: readonly RunSummary[];
}

/** Drains a watch in the background. */
function collect(watch: AsyncGenerator<RunSummary, void, undefined>): Collected {
  const seen: RunSummary[] = [];
  const done = (async () => {
    for await (const summary of watch) seen.push(summary);
    return seen;
  })();
  // Awaited by the test; this only keeps a failure before then from going unhandled.
  done.catch(() => undefined);
  return { done, seen };
}

/** Each worker's sessions opened so far, from its /status. */
async function sessionsOpened(cluster: LocalCluster): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const w of cluster.workers.values()) counts.set(w.id, (await workerStatus(w.httpAddress!)).sessions);
  return counts;
}

/** The leader lists every worker connected and active, and each worker's /status names that leader in a newer session. */
async function workersBackWith(cluster: LocalCluster, client: TestudoClient, leader: string, before: Map<string, number>): Promise<void> {
  await waitFor(`every worker in session with ${leader}`, async () => {
    const workers = await client.listWorkers();
    if (workers.length !== 3 || !workers.every((w) => w.connected && w.state === 'active')) return false;
    for (const w of cluster.workers.values()) {
      const status = await workerStatus(w.httpAddress!);
      if (!status.connected || status.leaderId !== leader || status.sessions <= (before.get(w.id) ?? 0)) return false;
    }
    return true;
  }, 30_000);
}

async function workerStatus(httpAddress: string): Promise<{ connected: boolean; leaderId: string; sessions: number }> {
  const response = await fetch(`http://${httpAddress}/status`, { signal: AbortSignal.timeout(2000) });
  return (await response.json()) as { connected: boolean; leaderId: string; sessions: number };
}
