import { afterEach, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { clientFor, startCluster, waitFor } from './harness.js';
import { countedTests, crashRun, finishRun, sleepRun, startWorkers } from './runs-harness.js';

/**
 * Circuit breakers and the recovery ladder on real processes: tasks that
 * really crash (SIGSEGV), a worker really stopped (SIGSTOP) and a leader
 * really killed (SIGKILL). Only infrastructure failures feed breakers and the
 * ladder; every task still ends exactly once.
 */
describe('recovery across real workers', () => {
  let cleanup: (() => Promise<void>) | null = null;
  let client: TestudoClient | null = null;

  afterEach(async () => {
    client?.close();
    client = null;
    await cleanup?.();
    cleanup = null;
  });

  async function setUp(options: Parameters<typeof startCluster>[0] = {}): Promise<{ cluster: LocalCluster; client: TestudoClient }> {
    const started = await startCluster({ basePort: 0, ...options });
    cleanup = started.cleanup;
    client = clientFor(started.cluster, { totalTimeoutMs: 30_000 });
    return { cluster: started.cluster, client };
  }

  async function workerId(c: TestudoClient, name: string): Promise<string> {
    const found = (await c.listWorkers()).find((w) => w.name === name);
    if (found === undefined) throw new Error(`no worker named ${name}`);
    return found.workerId;
  }

  it('quarantines a worker whose every task crashes while the run completes on the others', async () => {
    const { cluster, client } = await setUp();
    await startWorkers(cluster, client, 3, 2);
    // Short open waits and quarantine after two opens (the trip, then a failed probe), replicated settings. Three
    // opens depended on the machine's speed: on a quiet one the run ended before the third (probes wait for a
    // scheduling pass, at least once a second).
    const config = await client.breakerConfig({ openBaseMs: 300, openMaxMs: 600, quarantineAfterOpens: 2 });
    expect(config).toMatchObject({ openBaseMs: 300, openMaxMs: 600, quarantineAfterOpens: 2, minimumCalls: 5 });
    const bad = await workerId(client, 'w1');
    const { runId } = await client.submitRun(crashRun('crashing-worker', 60, 0.4, bad));
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    expect(run.degraded).toBe(false);
    expect(countedTests(run)).toEqual(Array.from({ length: 60 }, (_, i) => `t${i + 1}`).sort());
    // Every crash was classified and answered by a recovery decision.
    const crashes = run.tasks.flatMap((t) => t.attempts).filter((a) => a.state === 'infra-error');
    expect(crashes.length).toBeGreaterThan(0);
    expect(crashes.every((a) => a.workerId === bad && a.result?.infraClass === 'crash')).toBe(true);
    const decisions = run.tasks.flatMap((t) => t.decisions);
    expect(decisions).toHaveLength(crashes.length);
    expect(decisions.every((d) => d.level >= 1 && d.level <= 3 && d.workerId === bad)).toBe(true);
    // The bad worker's breaker tripped and keeps it out; the healthy ones stay closed.
    const workers = await client.listWorkers();
    const badInfo = workers.find((w) => w.workerId === bad)!;
    expect(badInfo.breakerState).toBe('forced-open');
    expect(badInfo.breakerReason).toMatch(/opened 2 times in a row/);
    for (const w of workers.filter((x) => x.workerId !== bad)) expect(w.breakerState).toBe('closed');
    // The breakers are on the leader's /metrics (only the leader reports the replicated state).
    const leader = cluster.member((await client.clusterStatus()).leaderId);
    const metrics = await (await fetch(`http://${leader.httpAddress!}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`testudo_breaker_state\\{[^}]*worker="${bad}"[^}]*\\} 3`));
    expect(metrics).toMatch(/testudo_breaker_transitions_total\{[^}]*from="closed"[^}]*to="open"[^}]*\} 1/);
    expect(metrics).toMatch(/testudo_breaker_transitions_total\{[^}]*from="open"[^}]*to="forced-open"[^}]*\} 1/);
    expect(metrics).toMatch(/testudo_alerts_total\{[^}]*kind="quarantine"[^}]*\} 1/);
    // Every decision is counted by level and class: as many as the crashes the run saw.
    const counted = [...metrics.matchAll(/^testudo_recovery_decisions_total\{([^}]*)\} (\d+)$/gm)];
    expect(counted.every(([, labels]) => /class="crash"/.test(labels!) && /level="[123]"/.test(labels!))).toBe(true);
    expect(counted.reduce((sum, [, , n]) => sum + Number(n), 0)).toBe(crashes.length);
    // Once open it took only its half-open probes: far fewer attempts than its share.
    expect(run.tasks.flatMap((t) => t.attempts).filter((a) => a.workerId === bad).length).toBeLessThan(16);
    // An operator releases it; it takes work again.
    expect((await client.releaseWorker(bad, { reason: 'machine replaced' })).breaker).toBe('closed');
  });

  it('declares a stopped (SIGSTOP) worker lost, finishes its tasks elsewhere, and never counts its late results', async () => {
    const { cluster, client } = await setUp({ workerTtlMs: 1500, workerGraceMs: 2000 });
    await startWorkers(cluster, client, 3, 2);
    const { runId } = await client.submitRun(sleepRun('paused-worker', 12, 1.5));
    const paused = await waitFor('w1 running a task', async () => (await client.listWorkers()).find((w) => w.name === 'w1' && w.running.length > 0));
    await cluster.pauseWorker('w1');
    let run;
    try {
      await waitFor('w1 declared lost', async () => (await client.listWorkers()).find((w) => w.workerId === paused.workerId)?.state === 'lost');
      run = await finishRun(client, runId);
    } finally {
      cluster.resumeWorker('w1');
    }
    expect(run.state).toBe('passed');
    const lost = run.tasks.flatMap((t) => t.attempts).filter((a) => a.state === 'lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((a) => a.workerId === paused.workerId)).toBe(true);
    // Continued, the worker reconnects and delivers the results of its superseded attempts: recorded late, never counted.
    const after = await waitFor('the late results recorded', async () => {
      const view = await client.getRun(runId);
      const late = view.tasks.flatMap((t) => t.attempts).filter((a) => a.state === 'lost' && a.lateResults > 0);
      return late.length === lost.length ? view : undefined;
    }, 30_000);
    expect(after.counts).toEqual(run.counts);
    expect(countedTests(after)).toEqual(Array.from({ length: 12 }, (_, i) => `t${i + 1}`).sort());
    for (const task of after.tasks) expect(task.attempts.filter((a) => a.state === 'passed')).toHaveLength(1);
  });

  it('does not quarantine the fleet for a fleet-wide failure, holds the tasks, then gives them up at level 5 with a diagnosis', async () => {
    const { cluster, client } = await setUp();
    // Four workers: each has three peers, enough for the adaptive threshold.
    await startWorkers(cluster, client, 4, 1);
    // Short holds: the failure never heals here, so the tasks hold twice, then climb and give up.
    await client.breakerConfig({ fleetHoldsMax: 2, retryBackoffMs: 500 });
    const { runId } = await client.submitRun(crashRun('fleet-wide', 4, 0.1, 'all'));
    const run = await finishRun(client, runId, 120_000);
    expect(run.tasks.some((t) => t.decisions.some((d) => /during a fleet-wide fault: hold [12] of 2/.test(d.reason)))).toBe(true);
    expect(run.state).toBe('failed');
    expect(run.degraded).toBe(true);
    for (const task of run.tasks) {
      expect(task.state).toBe('failed-infra');
      expect(task.reason).toMatch(/^gave up after \d+ infrastructure failures: classes crash×\d+; workers tried .+; levels applied /);
      const levels = task.decisions.map((d) => d.level);
      expect(levels.at(-1)).toBe(5);
      expect(levels).not.toContain(4);
    }
    const workers = await client.listWorkers();
    for (const w of workers) expect(w.breakerState).not.toBe('forced-open');
    expect(workers.filter((w) => w.breakerState === 'closed').length).toBeGreaterThanOrEqual(3);
  });

  it('keeps breaker states and every task’s ladder position through a leader failover', async () => {
    const { cluster, client } = await setUp();
    await startWorkers(cluster, client, 3, 2);
    const bad = await workerId(client, 'w1');
    const { runId } = await client.submitRun(crashRun('failover-mid-recovery', 30, 0.5, bad));
    await waitFor('the bad worker cut off', async () => (await client.listWorkers()).find((w) => w.workerId === bad)?.breakerState === 'open', 60_000);
    const before = await client.getRun(runId);
    const decisionsBefore = new Map(before.tasks.map((t) => [t.taskId, t.decisions]));
    const leader = (await client.clusterStatus()).leaderId;
    await cluster.kill(leader);
    // The new leader knows the breaker from the log, not from memory.
    const info = await waitFor('a new leader answering', async () => (await client.listWorkers()).find((w) => w.workerId === bad));
    expect(info.breakerState).toBe('open');
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    for (const task of run.tasks) {
      // Every decision taken before the failover is still there, first, and the ladder went on from it.
      const earlier = decisionsBefore.get(task.taskId) ?? [];
      expect(task.decisions.slice(0, earlier.length)).toEqual(earlier);
      const levels = task.decisions.map((d) => d.level);
      for (let i = 1; i < levels.length; i++) expect(levels[i]!).toBeGreaterThan(levels[i - 1]!);
    }
    expect(countedTests(run)).toEqual(Array.from({ length: 30 }, (_, i) => `t${i + 1}`).sort());
  });
});
