import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import type { RunSubmission, RunSummary, RunView, TaskTemplate } from '../../src/model/index.js';
import { waitFor } from './harness.js';
import { noopTemplate } from '../../src/bench/schedule.js';

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const sleepScript = join(fixtures, 'sleep-test.sh');
const crashScript = join(fixtures, 'crash-on.sh');

/** Like sleepRun, but each task crashes (SIGSEGV) on the worker `crashOn` (a worker id, or 'all'). */
export function crashRun(name: string, tasks: number, seconds: number, crashOn: string): RunSubmission {
  const run = sleepRun(name, tasks, seconds);
  return { ...run, tasks: run.tasks.map((t) => ({ ...t, command: `exec sh ${crashScript} ${seconds} t${t.shard}`, env: { CRASH_ON: crashOn } })) };
}

/** A run of `tasks` tasks, each sleeping `seconds` and reporting one passing test named `t<k>`. */
export function sleepRun(name: string, tasks: number, seconds: number, overrides: Partial<TaskTemplate> = {}): RunSubmission {
  const template = (k: number): TaskTemplate => ({
    ...noopTemplate(),
    suite: 'sleep',
    command: `sh ${sleepScript} ${seconds} t${k}`,
    shard: k,
    shardCount: tasks,
    ...overrides,
  });
  return { name, setup: [], setupCacheKey: '', sourceDir: '/tmp', tasks: Array.from({ length: tasks }, (_, i) => template(i + 1)) };
}

/** Starts workers w1..wN and waits until the leader sees them all connected. */
export async function startWorkers(cluster: LocalCluster, client: TestudoClient, count: number, slots: number): Promise<void> {
  for (let i = 1; i <= count; i++) await cluster.startWorker(`w${i}`, { slots, killGraceMs: 500 });
  await waitFor(`${count} connected workers`, async () => (await client.listWorkers()).filter((w) => w.connected).length >= count, 60_000);
}

/**
 * Waits for the run to end through watchRun (which follows a leader change
 * by itself; a watch that gives up is opened again until `timeoutMs`), then
 * returns its full view.
 */
export async function finishRun(client: TestudoClient, runId: string, timeoutMs = 90_000): Promise<RunView> {
  const deadlineMs = Date.now() + timeoutMs;
  return waitFor(
    `run ${runId} to end`,
    async () => {
      let last: RunSummary | undefined;
      for await (const summary of client.watchRun(runId)) {
        last = summary;
        // Servers send a summary at least every second: this bounds the wait.
        if (Date.now() > deadlineMs) throw new Error(`run ${runId} still ${summary.state} after ${timeoutMs} ms`);
      }
      if (last === undefined || last.state === 'running') return undefined;
      return client.getRun(runId);
    },
    timeoutMs,
  );
}

/** Every task's counted attempts (with a result that is not an infra error). */
export function countedAttempts(run: RunView): Map<string, number> {
  const counts = new Map<string, number>();
  for (const task of run.tasks) counts.set(task.taskId, task.attempts.filter((a) => a.result !== undefined && a.result.outcome !== 'infra-error').length);
  return counts;
}

/** The test names counted in the run (from each task's final counted attempt), with multiplicity. */
export function countedTests(run: RunView): string[] {
  const names: string[] = [];
  for (const task of run.tasks) {
    const counted = task.attempts.filter((a) => a.result !== undefined && a.result.outcome !== 'infra-error');
    const last = counted[counted.length - 1];
    for (const test of last?.result?.tests ?? []) names.push(test.name);
  }
  return names.sort();
}

/** Results waiting in a worker's outbox, as its /status reports them (null when it does not answer). */
export async function outboxSize(httpAddress: string): Promise<number | null> {
  try {
    const response = await fetch(`http://${httpAddress}/status`, { signal: AbortSignal.timeout(2000) });
    const status = (await response.json()) as { outbox?: number };
    return typeof status.outbox === 'number' ? status.outbox : null;
  } catch {
    return null;
  }
}
