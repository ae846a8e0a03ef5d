import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { clientFor, leadersByTerm, missingWrites, runTestudo, stableLeader, startCluster, waitFor } from '../integration/harness.js';
import { finishRun, sleepRun, startWorkers } from '../integration/runs-harness.js';

/**
 * The rolling restart of docs/operations.md ("Rolling restart and upgrade"),
 * performed with real processes: every coordinator is stopped (SIGTERM) and
 * started again in turn, followers first, the leader last after
 * `testudo cluster transfer-leader` moved leadership away, each time waiting
 * until `cluster status` and /readyz show the restarted member caught up.
 * Meanwhile clients write keys and a run has attempts running on two
 * workers (its tasks wait on a gate file opened only after the last restart,
 * so the run is surely in flight throughout). No write may fail beyond the
 * client's own retries, none may be lost, the run must pass with exactly one
 * attempt per task, and no term may have two leaders.
 */
describe('rolling restart under load', () => {
  const clients: TestudoClient[] = [];
  let cleanup: (() => Promise<void>) | null = null;

  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await cleanup?.();
  });

  it('restarts every coordinator in turn with writes and a run in flight: no failed write, no rerun, one leader per term', async () => {
    const started = await startCluster();
    cleanup = started.cleanup;
    const { cluster, dir } = started;
    const client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    const writer = clientFor(cluster, { totalTimeoutMs: 30_000 });
    clients.push(client, writer);
    await startWorkers(cluster, client, 2, 2);

    const gate = join(dir, 'gate');
    const plain = sleepRun('rolling', 8, 0.2, { timeoutSec: 600 });
    const run = { ...plain, tasks: plain.tasks.map((t) => ({ ...t, command: `while [ ! -f ${gate} ]; do sleep 0.1; done; ${t.command}` })) };
    await client.submitRun(run, { runId: 'r-rolling' });
    await waitFor('4 attempts running', async () => (await client.listRuns()).find((r) => r.runId === 'r-rolling')?.counts.running === 4, 60_000);
    const load = new RecordingWriteLoad(writer, 'rolling', 2);

    const { leaderId } = await stableLeader(client, 3);
    const order = [...[...cluster.members.keys()].filter((id) => id !== leaderId).sort(), leaderId];
    const transfers: string[] = [];
    for (const id of order) {
      const summary = (await client.listRuns()).find((r) => r.runId === 'r-rolling');
      expect(summary?.state).toBe('running');
      const current = await stableLeader(client, 3);
      if (current.leaderId === id) transfers.push(await transferAway(cluster, client, id));
      await cluster.kill(id, 'SIGTERM');
      expect(await cluster.exited(id)).toBe(0);
      await cluster.restart(id);
      await waitCaughtUp(cluster, client, id);
    }
    // Usually exactly one (the leader's turn); an election on an overloaded machine can move leadership
    // in between, which the checks below cover: it must cost no write and no attempt either.
    console.info(`rolling restart: order ${order.join(', ')}; leadership transferred to ${transfers.join(', ') || 'none'}`);
    const writesDuring = load.acked.size;

    await writeFile(gate, '');
    const view = await finishRun(client, 'r-rolling', 120_000);
    await load.stop();
    expect(load.errors).toEqual([]);
    expect(writesDuring).toBeGreaterThan(0);
    expect(await missingWrites(client, load.acked, 'rolling')).toEqual([]);
    expect(view.state).toBe('passed');
    expect(view.tasks.map((t) => t.attempts.length)).toEqual(view.tasks.map(() => 1));
    for (const [term, leaders] of await leadersByTerm(cluster)) expect([term, leaders.size]).toEqual([term, 1]);
  }, 300_000);
});

/** `testudo cluster transfer-leader` to the most caught-up other member, as the runbook says; returns it. */
async function transferAway(cluster: LocalCluster, client: TestudoClient, id: string): Promise<string> {
  const status = await client.clusterStatus();
  const to = status.members.filter((m) => m.id !== id && m.reachable && m.ready).sort((x, y) => x.lag - y.lag || x.id.localeCompare(y.id))[0]!.id;
  const moved = await runTestudo(['cluster', 'transfer-leader', '--to', to, '--coordinators', cluster.endpoints().join(',')], 30_000);
  expect(moved.code, moved.stderr).toBe(0);
  await waitFor(`${to} leading`, async () => (await stableLeader(client, 3)).leaderId === to);
  return to;
}

/**
 * The runbook's "caught up": `cluster status` shows the member ready, having
 * applied at least what the leader had committed when it came back, and its
 * /readyz answers 200. (LAG itself flickers under a steady write load.)
 */
async function waitCaughtUp(cluster: LocalCluster, client: TestudoClient, id: string): Promise<void> {
  const http = cluster.member(id).httpAddress;
  // A loaded leader may miss one status probe: ask until one answer names it.
  const leaderCommit = await waitFor('the leader\'s commit index', async () => (await client.clusterStatus()).members.find((m) => m.role === 'leader')?.commitIndex);
  await waitFor(
    `${id} caught up after its restart`,
    async () => {
      const status = await client.clusterStatus();
      const m = status.members.find((s) => s.id === id);
      if (m === undefined || !m.reachable || !m.ready || m.appliedIndex < leaderCommit) return false;
      const readyz = await fetch(`http://${http}/readyz`, { signal: AbortSignal.timeout(2_000) });
      return readyz.status === 200;
    },
    60_000,
  );
}

/** Writes sequential keys from `concurrency` callers until stopped; keeps what was acknowledged and every error (after the client's retries). */
class RecordingWriteLoad {
  readonly acked = new Map<string, string>();
  readonly errors: string[] = [];
  private running = true;
  private readonly done: Promise<void>;
  private seq = 0;

  constructor(client: TestudoClient, prefix: string, concurrency: number) {
    const caller = async (): Promise<void> => {
      while (this.running) {
        const n = ++this.seq;
        const key = `${prefix}/${String(n).padStart(7, '0')}`;
        try {
          await client.put(key, String(n));
          this.acked.set(key, String(n));
        } catch (error) {
          this.errors.push(`${(error as Error).name}: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    };
    this.done = Promise.all(Array.from({ length: concurrency }, caller)).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
