import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import type { RunSubmission } from '../../src/model/index.js';
import { clientFor, stableLeader, startCluster, waitFor } from './harness.js';
import { countedAttempts, countedTests, finishRun, sleepRun, startWorkers } from './runs-harness.js';

/**
 * Exactly-once with prefetch, on real processes: 3 coordinators, 3 workers
 * of 2 slots that may each hold 2 committed orders beyond their slots, and a
 * SIGKILL of the leader while the workers hold such orders (seen in their
 * /status). Every task must end exactly once with one counted attempt, the
 * run's verdicts must be the planted ones, and no held order may be lost or
 * run twice across the failover.
 */
describe('prefetched orders across a kill -9 of the leader', () => {
  let cluster: LocalCluster;
  let client: TestudoClient;
  let cleanup: () => Promise<void>;
  const tasks = 48;
  const failing = new Set([5, 17, 29, 41]);

  beforeAll(async () => {
    const started = await startCluster({ basePort: 0 });
    cluster = started.cluster;
    cleanup = started.cleanup;
    client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    await client.breakerConfig({ prefetchPerSlot: 1 });
    await startWorkers(cluster, client, 3, 2);
  }, 90_000);

  afterAll(async () => {
    client?.close();
    await cleanup?.();
  });

  /** Tasks of 0.3 s each; those in `failing` report a failed test (and exit 1), retries 0. */
  function plantedRun(): RunSubmission {
    const run = sleepRun('prefetch-failover', tasks, 0.3);
    const fail = (k: number): string =>
      `sleep 0.3; printf '<testsuite name="it" tests="1"><testcase classname="it" name="t${k}"><failure message="planted"/></testcase></testsuite>' > "$TESTUDO_JUNIT"; exit 1`;
    return { ...run, tasks: run.tasks.map((t) => (failing.has(t.shard) ? { ...t, command: fail(t.shard) } : t)) };
  }

  /** Orders the workers hold beyond their running ones, from each worker's /status. */
  async function heldOrders(): Promise<number> {
    let held = 0;
    for (const worker of cluster.workers.values()) {
      try {
        const response = await fetch(`http://${worker.httpAddress}/status`, { signal: AbortSignal.timeout(2000) });
        held += ((await response.json()) as { queued?: number }).queued ?? 0;
      } catch {
        // Not answering now: counts as none.
      }
    }
    return held;
  }

  /** Waits for the planted run's end: every task ended once with its planted verdict, one attempt each (none lost, none run twice). */
  async function expectEachTaskOnce(runId: string): Promise<void> {
    const run = await finishRun(client, runId, 90_000);
    expect(run.state).toBe('failed');
    expect(run.counts).toMatchObject({ tasks, passed: tasks - failing.size, failed: failing.size, failedInfra: 0, cancelled: 0 });
    for (const [taskId, counted] of countedAttempts(run)) expect(counted, taskId).toBe(1);
    expect(countedTests(run)).toEqual(Array.from({ length: tasks }, (_, i) => `t${i + 1}`).sort());
    const attempts = run.tasks.flatMap((t) => t.attempts);
    expect(attempts.filter((a) => a.state === 'lost')).toEqual([]);
    expect(attempts).toHaveLength(tasks);
  }

  it('ends every task exactly once with the planted verdicts, no attempt lost or run again', async () => {
    const runId = 'it-prefetch-failover';
    await client.submitRun(plantedRun(), { runId });
    const held = await waitFor('workers holding prefetched orders', async () => {
      const n = await heldOrders();
      return n > 0 ? n : undefined;
    }, 30_000);
    expect(held).toBeGreaterThan(0);
    const killed = (await client.clusterStatus()).leaderId;
    await cluster.kill(killed, 'SIGKILL');

    // The held orders survived the failover: none was declared lost, none ran twice.
    await expectEachTaskOnce(runId);
    expect((await stableLeader(client)).leaderId).not.toBe(killed);
  }, 150_000);

  it('a leader killed as a run is submitted: the first assignments, proposed right behind its submit-run, end exactly once', async () => {
    // The member killed above comes back, so that the cluster can lose its leader once more.
    const down = [...cluster.members.values()].filter((m) => m.child === null).map((m) => m.id);
    for (const id of down) await cluster.restart(id);
    await stableLeader(client);
    const runId = 'it-alongside-failover';
    const killed = (await client.clusterStatus()).leaderId;
    // The queue is idle: the leader proposes the run's first assign right behind the submit-run and sends its orders when it commits.
    await client.submitRun(plantedRun(), { runId });
    await cluster.kill(killed, 'SIGKILL');

    // Orders committed before the kill reached their workers or were sent again by the next leader: none lost, none run twice.
    await expectEachTaskOnce(runId);
  }, 150_000);
});
