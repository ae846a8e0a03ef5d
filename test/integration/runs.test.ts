import { readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';

import { XMLParser } from 'fast-xml-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { main } from '../../src/cli/main.js';
import { mergeRun } from '../../src/report/merge.js';
import { renderJUnit } from '../../src/report/junit-write.js';
import { expandSpec, loadSpec } from '../../src/spec/index.js';
import { clientFor, startCluster, waitFor } from './harness.js';
import { countedAttempts, countedTests, finishRun, outboxSize, sleepRun, startWorkers } from './runs-harness.js';
import { startToxiproxyServer } from '../../src/failure-injection/toxiproxy/index.js';

/**
 * Runs end to end on real processes: 3 coordinators (Raft on LevelDB), worker
 * processes running real commands in their own process groups, and kill -9.
 * The checks are invariants 4 and 5 of docs/architecture.md: every task ends exactly once
 * (5) and a result is counted at most once (4).
 */
describe('runs across real workers', () => {
  let cleanup: (() => Promise<void>) | null = null;
  let client: TestudoClient | null = null;

  afterEach(async () => {
    client?.close();
    client = null;
    await cleanup?.();
    cleanup = null;
  });

  async function setUp(options: Parameters<typeof startCluster>[0] = {}): Promise<{ cluster: LocalCluster; client: TestudoClient; dir: string }> {
    const started = await startCluster({ basePort: 0, ...options });
    cleanup = started.cleanup;
    client = clientFor(started.cluster, { totalTimeoutMs: 30_000 });
    return { cluster: started.cluster, client, dir: started.dir };
  }

  /**
   * One cluster with 3 workers × 2 slots for these two cases, in this order:
   * the second kills its leader.
   */
  describe('on one cluster with 3 workers', () => {
    let shared: { cluster: LocalCluster; client: TestudoClient; cleanup: () => Promise<void> } | null = null;
    const sharedCluster = (): { cluster: LocalCluster; client: TestudoClient } => shared!;

    beforeAll(async () => {
      const started = await startCluster({ basePort: 0 });
      const sharedClient = clientFor(started.cluster, { totalTimeoutMs: 30_000 });
      shared = { cluster: started.cluster, client: sharedClient, cleanup: started.cleanup };
      await startWorkers(started.cluster, sharedClient, 3, 2);
    });

    afterAll(async () => {
      shared?.client.close();
      await shared?.cleanup();
    });

    it('runs the example suite to completion across 3 workers with one merged report', async () => {
      const { cluster, client } = sharedCluster();
      const submission = await expandSpec(await loadSpec('examples/testudo.yaml'));
      const { runId, tasks } = await client.submitRun(submission);
      expect(tasks).toBe(submission.tasks.length);
      const summaries = [];
      for await (const summary of client.watchRun(runId)) summaries.push(summary);
      expect(summaries.at(-1)?.state).toBe('failed'); // one deliberately failing test
      const run = await client.getRun(runId);
      expect(run.tasks.every((t) => t.state === 'passed' || t.state === 'failed')).toBe(true);
      expect(run.tasks.filter((t) => t.state === 'failed').map((t) => t.template.suite)).toEqual(['failing']);
      const workersUsed = new Set(run.tasks.flatMap((t) => t.attempts.map((a) => a.workerId)));
      expect(workersUsed.size).toBeGreaterThanOrEqual(2);
      // The flaky test failed once and passed on its retry.
      const flaky = run.tasks.find((t) => t.template.suite === 'flaky')!;
      expect(flaky.attempts.map((a) => a.state)).toEqual(['failed', 'passed']);
      expect(flaky.attempts[1]!.workerId).not.toBe(flaky.attempts[0]!.workerId);
      // The merged JUnit report parses and counts every test once.
      const xml = renderJUnit(mergeRun(run));
      const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as { testsuites: { tests: string; failures: string } };
      expect(Number(parsed.testsuites.tests)).toBe(countedTests(run).length);
      expect(Number(parsed.testsuites.failures)).toBe(1);
      expect(xml).toContain('<flakyFailure');
      // The leader reports the replicated task counts, its committed results and dispatch times.
      const leader = cluster.member((await client.clusterStatus()).leaderId);
      const metrics = await (await fetch(`http://${leader.httpAddress!}/metrics`)).text();
      expect(metrics).toMatch(/testudo_tasks\{[^}]*state="failed"[^}]*\} 1/);
      expect(metrics).toMatch(/testudo_workers\{[^}]*state="active"[^}]*\} 3/);
      expect(metrics).toMatch(/testudo_results_committed_total\{[^}]*status="counted"[^}]*\} (\d+)/);
      expect(metrics).toMatch(/testudo_task_dispatch_seconds_count\{[^}]*\} 10/);
    });

    it('completes a run with every test counted once when the leader is killed (SIGKILL) mid-run', async () => {
      const { cluster, client } = sharedCluster();
      const { runId } = await client.submitRun(sleepRun('leader-kill', 18, 1.2));
      await waitFor('some tasks done and some running', async () => {
        const c = (await client.getRun(runId)).counts;
        return c.passed >= 3 && c.running >= 2;
      });
      const leader = (await client.clusterStatus()).leaderId;
      await cluster.kill(leader);
      const run = await finishRun(client, runId);
      expect(run.state).toBe('passed');
      expect([...countedAttempts(run).values()].every((n) => n === 1)).toBe(true);
      expect(countedTests(run)).toEqual(Array.from({ length: 18 }, (_, i) => `t${i + 1}`).sort());
      // The killed node comes back and converges on the same state.
      await cluster.restart(leader);
      const digests = await waitFor('equal digests on all three nodes', async () => {
        const all = await Promise.all([...cluster.members.values()].map(async (m) => (await fetchStatus(m.httpAddress!)) as { digest: string; appliedToMachine: number }));
        return new Set(all.map((s) => s.digest)).size === 1 ? all : undefined;
      }, 30_000);
      expect(digests).toHaveLength(3);
    });
  });

  it('moves the tasks of a worker killed (SIGKILL) mid-task to others, none lost or doubled', async () => {
    const { cluster, client } = await setUp({ workerTtlMs: 1500, workerGraceMs: 2000 });
    await startWorkers(cluster, client, 3, 2);
    const { runId } = await client.submitRun(sleepRun('worker-kill', 12, 1.5));
    const victim = await waitFor('w1 running a task', async () => {
      const workers = await client.listWorkers();
      return workers.find((w) => w.name === 'w1' && w.running.length > 0);
    });
    await cluster.killWorker('w1');
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    const lostAttempts = run.tasks.flatMap((t) => t.attempts).filter((a) => a.state === 'lost');
    expect(lostAttempts.length).toBeGreaterThan(0);
    expect(lostAttempts.every((a) => a.workerId === victim.workerId)).toBe(true);
    for (const task of run.tasks) {
      const passed = task.attempts.filter((a) => a.state === 'passed');
      expect(passed).toHaveLength(1);
      // A task that lost its attempt with the victim ran again elsewhere.
      if (task.attempts.some((a) => a.state === 'lost')) expect(passed[0]!.workerId).not.toBe(victim.workerId);
    }
    expect(countedTests(run)).toEqual(Array.from({ length: 12 }, (_, i) => `t${i + 1}`).sort());
    const workers = await client.listWorkers();
    expect(workers.find((w) => w.workerId === victim.workerId)).toMatchObject({ state: 'lost', service: 'out', serviceReason: 'lost' });
    expect(workers.filter((w) => w.workerId !== victim.workerId).map((w) => w.service)).toEqual(['full', 'full']);
  });

  it('counts as lost, not runs again unseen, the attempts a worker killed (SIGKILL) and restarted within its TTL died with', async () => {
    // A long TTL: the worker comes back under the same session, so only its own report tells the leader what it lost.
    const { cluster, client } = await setUp({ workerTtlMs: 120_000, workerGraceMs: 1000 });
    await startWorkers(cluster, client, 2, 2);
    const { runId } = await client.submitRun(sleepRun('worker-restart', 8, 1.5));
    const victim = await waitFor('w1 running a task', async () => {
      const workers = await client.listWorkers();
      return workers.find((w) => w.name === 'w1' && w.running.length > 0);
    });
    // Assigned is not enough: the order may still be on its way. Kill once the worker has begun an attempt.
    const begun = join(cluster.worker('w1').workDir, 'task-groups');
    // A record is whole once renamed into place (no `.writing` suffix).
    await waitFor('w1 has begun an attempt', async () => (await readdir(begun).catch(() => [])).some((name) => !name.endsWith('.writing')));
    await cluster.killWorker('w1');
    await cluster.startWorker('w1');
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    const lostAttempts = run.tasks.flatMap((t) => t.attempts).filter((a) => a.state === 'lost');
    expect(lostAttempts.length).toBeGreaterThan(0);
    for (const attempt of lostAttempts) {
      expect(attempt.workerId).toBe(victim.workerId);
      expect(attempt.reason).toContain('restarted');
    }
    for (const task of run.tasks) expect(task.attempts.filter((a) => a.state === 'passed')).toHaveLength(1);
    expect([...countedAttempts(run).values()].every((n) => n === 1)).toBe(true);
    expect(countedTests(run)).toEqual(Array.from({ length: 8 }, (_, i) => `t${i + 1}`).sort());
  });

  it('commits once the results a restarted worker finds in its outbox', async () => {
    // A long TTL: the coordinators' pause below must not get the worker declared lost.
    const { cluster, client } = await setUp({ workerTtlMs: 120_000, workerGraceMs: 1000 });
    await startWorkers(cluster, client, 1, 1);
    const { runId } = await client.submitRun(sleepRun('outbox', 1, 1.5));
    await waitFor('the task running', async () => (await client.getRun(runId)).counts.running === 1);
    // Cut the worker off from every coordinator while its task finishes.
    for (const id of cluster.members.keys()) await cluster.pause(id);
    const worker = cluster.worker('w1');
    try {
      await waitFor('the result in the outbox', async () => (await outboxSize(worker.httpAddress!)) === 1, 15_000);
      await cluster.killWorker('w1');
    } finally {
      for (const id of cluster.members.keys()) cluster.resume(id);
    }
    await cluster.startWorker('w1');
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    const task = run.tasks[0]!;
    expect(task.attempts).toHaveLength(1);
    expect(task.attempts[0]!.state).toBe('passed');
    expect(task.attempts[0]!.lateResults).toBe(0);
    await waitFor('the outbox emptied once committed', async () => (await outboxSize(worker.httpAddress!)) === 0);
    // The full log stays on the worker; the CLI fetches it from there.
    let printed = '';
    const code = await main(['runs', 'log', task.attempts[0]!.attemptId, '--coordinators', cluster.endpoints().join(',')], (text) => (printed += text));
    expect(code, printed).toBe(0);
    expect(printed).toContain('sleeping 1.5 s for t1');
    const log = await readFile(join(worker.workDir, 'worker.log'), 'utf8');
    expect(log).toContain('session open');
  });
});

describe('a worker machine crash that loses its unsynced outbox', () => {
  let cleanup: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await cleanup?.();
    cleanup = null;
  });

  // The outbox's deferred sync gives up, on a crash of the whole machine,
  // the results written less than --outbox-sync-ms ago and not committed yet.
  // A machine crash cannot be staged here; what it leaves is staged instead:
  // a result the worker could not send (its links to the coordinators cut
  // at a fault proxy), a dead worker process, and an outbox without the
  // unsynced writes (kill -9 alone keeps them: the page cache outlives the
  // process). The attempt must run again and its test count once.
  it('runs the attempt again and counts its test once', async () => {
    // A long TTL: the worker's cut-off below must not get it declared lost.
    const started = await startCluster({ basePort: 0, workerTtlMs: 120_000, workerGraceMs: 1000 });
    const proxy = await startToxiproxyServer({ host: '127.0.0.1', port: 0, seed: 1 });
    cleanup = async () => {
      await proxy.close();
      await started.cleanup();
    };
    const cluster = started.cluster;
    const client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    const api = async (path: string, body: unknown): Promise<{ listen: string }> => {
      const response = await fetch(`${proxy.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status, path).toBeLessThan(300);
      return (await response.json()) as { listen: string };
    };
    const routes: string[] = [];
    for (const [id, member] of cluster.members) {
      const created = await api('/proxies', { name: id, listen: '127.0.0.1:0', upstream: member.grpcAddress, enabled: true });
      routes.push(`${member.grpcAddress}=${created.listen}`);
    }
    const setLinks = async (enabled: boolean): Promise<void> => {
      for (const id of cluster.members.keys()) await api(`/proxies/${id}`, { enabled });
    };
    const workerArgs = ['--route', routes.join(','), '--outbox-sync-ms', '60000'];
    try {
      await cluster.startWorker('w1', { slots: 1, killGraceMs: 500, extraArgs: workerArgs });
      await waitFor('w1 connected', async () => (await client.listWorkers()).some((w) => w.connected), 60_000);
      const { runId } = await client.submitRun(sleepRun('machine-crash', 1, 1.5));
      await waitFor('the task running', async () => (await client.getRun(runId)).counts.running === 1);
      await setLinks(false);
      const worker = cluster.worker('w1');
      await waitFor('the result in the outbox', async () => (await outboxSize(worker.httpAddress!)) === 1, 15_000);
      // Written, never synced (the sync would come 60 s later), and never sent: the leader still has it running.
      expect(await fetchStatus(worker.httpAddress!)).toMatchObject({ connected: false, outboxUnsynced: 1, outboxSyncs: 0 });
      expect((await client.getRun(runId)).counts.running).toBe(1);
      await cluster.killWorker('w1');
      const killedAtMs = Date.now();
      // What the crash takes: every write since the last sync (here, since the outbox was created).
      const outbox = join(worker.workDir, 'outbox');
      for (const name of await readdir(outbox)) if (name.startsWith('seg-')) await truncate(join(outbox, name), 0);
      await setLinks(true);
      await cluster.startWorker('w1', { slots: 1, killGraceMs: 500, extraArgs: workerArgs });
      const run = await finishRun(client, runId);
      expect(run.state).toBe('passed');
      const task = run.tasks[0]!;
      expect(task.attempts.filter((a) => a.state === 'passed')).toHaveLength(1);
      expect([...countedAttempts(run).values()]).toEqual([1]);
      expect(countedTests(run)).toEqual(['t1']);
      // The result counted is the second run's: the attempt started again after the crash, its first result gone with the outbox.
      const passed = task.attempts.find((a) => a.state === 'passed')!;
      expect(passed.result!.startedAtMs).toBeGreaterThan(killedAtMs);
    } finally {
      client.close();
    }
  });
});

async function fetchStatus(address: string): Promise<unknown> {
  const response = await fetch(`http://${address}/status`);
  return response.json();
}
