import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../../src/client/index.js';
import { LocalCluster, testudoCommand } from '../../../src/cluster/local-cluster.js';
import { classify } from '../../../src/coordinator/recovery/index.js';
import type { AttemptView, RunSubmission, TaskTemplate } from '../../../src/model/index.js';
import { clientFor, waitFor } from '../../integration/harness.js';
import { finishRun, sleepRun } from '../../integration/runs-harness.js';

/**
 * Chaos hooks in real processes: three coordinators (n1 and n2 with
 * --chaos-hooks, n3 without) and one worker per fault (with --chaos-hooks),
 * plus one without. Each task is pinned by label to the worker whose fault it
 * is meant to meet, and the coordinator's own records (attempt results,
 * recovery decisions) show how each fault was classified.
 */

const faultWorkers = ['spawn', 'crash', 'timeout', 'cpu'] as const;
type FaultWorker = (typeof faultWorkers)[number] | 'plain';

const junit = (name: string): string => `printf '<testsuite name="it" tests="1"><testcase classname="it" name="${name}"/></testsuite>' > "$TESTUDO_JUNIT"`;

/** `tasks` tasks that only the worker labelled chaos=<worker> can run, each running `command`. */
function pinnedRun(name: string, worker: FaultWorker, tasks: number, command: (k: number) => string): RunSubmission {
  const requirements: TaskTemplate['requirements'] = { labels: { chaos: worker }, cpus: 0, memoryMb: 0, tools: [] };
  const run = sleepRun(name, tasks, 0, { requirements });
  return { ...run, tasks: run.tasks.map((t) => ({ ...t, command: command(t.shard) })) };
}

async function chaos(address: string, method: 'GET' | 'PUT' | 'DELETE', body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`http://${address}/chaos`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A histogram's _sum and _count from Prometheus text. */
function histogram(text: string, name: string): { sum: number; count: number } {
  const value = (suffix: string): number => {
    const match = new RegExp(`^${name}_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`no ${name}_${suffix} in /metrics`);
    return Number(match[1]);
  };
  return { sum: value('sum'), count: value('count') };
}

/** A gauge's value from Prometheus text. */
function gauge(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (match === null) throw new Error(`no ${name} in /metrics`);
  return Number(match[1]);
}

/** The /proc/<pid>/stat state letter ('T' = stopped), or null once the process is gone. */
async function procState(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** The end of each worker's log and whether it still runs, for a failure message. */
async function workerLogTails(cluster: LocalCluster): Promise<string> {
  const parts: string[] = [];
  for (const w of cluster.workers.values()) {
    const text = await readFile(w.logPath, 'utf8').catch(() => '(no log)');
    parts.push(`--- ${w.id} (${w.child === null ? 'exited' : 'running'}):\n${text.split('\n').slice(-8).join('\n')}`);
  }
  return parts.join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos hooks in real worker and coordinator processes', () => {
  let dir = '';
  let cluster: LocalCluster | null = null;
  let client: TestudoClient | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testudo-hooks-it-'));
    cluster = new LocalCluster({
      coordinators: 3,
      dataDir: dir,
      baseHttpPort: 0,
      logLevel: 'info',
      memberArgs: (id) => (id === 'n3' ? [] : ['--chaos-hooks']),
    });
    await cluster.start();
    client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    for (const k of faultWorkers) {
      await cluster.startWorker(`w-${k}`, { slots: 2, labels: `chaos=${k}`, killGraceMs: 500, httpPort: 0, extraArgs: ['--chaos-hooks', '--chaos-seed', '1'] });
    }
    await cluster.startWorker('w-plain', { slots: 1, labels: 'chaos=plain', killGraceMs: 500, httpPort: 0 });
    try {
      await waitFor('5 connected workers', async () => (await client!.listWorkers()).filter((w) => w.connected).length >= 5, 80_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await workerLogTails(cluster)}`, { cause: error });
    }
  }, 150_000);

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const workerHttp = (k: FaultWorker): string => cluster!.worker(`w-${k}`).httpAddress!;

  /** Submits the run, waits until `count` attempts have results, cancels the run and returns them (and its decisions). */
  async function faultAttempts(run: RunSubmission, count: number): Promise<{ attempts: AttemptView[]; failureClasses: string[] }> {
    const { runId } = await client!.submitRun(run);
    try {
      return await waitFor(
        `${count} attempts of ${run.name} with results`,
        async () => {
          const view = await client!.getRun(runId);
          const attempts = view.tasks.flatMap((t) => t.attempts).filter((a) => a.result !== undefined);
          return attempts.length >= count ? { attempts, failureClasses: view.tasks.flatMap((t) => t.decisions).map((d) => d.failureClass) } : undefined;
        },
        60_000,
      );
    } finally {
      await client!.cancelRun(runId, 'chaos hooks test done');
    }
  }

  it('spawnFailRate 1: the attempts are recorded as spawn-error infrastructure failures', async () => {
    expect(await chaos(workerHttp('spawn'), 'PUT', { spawnFailRate: 1 })).toEqual({ status: 200, json: { spawnFailRate: 1, crashRate: 0, timeoutRate: 0, cpuShare: 1 } });
    try {
      const { attempts, failureClasses } = await faultAttempts(pinnedRun('chaos-spawn', 'spawn', 2, (k) => junit(`t${k}`)), 2);
      for (const a of attempts) {
        expect(a.state).toBe('infra-error');
        expect(a.result).toMatchObject({ outcome: 'infra-error', infraClass: 'spawn-error' });
        expect(a.result!.reason).toMatch(/spawn failure injected by chaos hooks/);
        expect(classify(a.result!)).toBe('spawn-error');
      }
      expect(failureClasses.length).toBeGreaterThan(0);
      expect(failureClasses.every((c) => c === 'spawn-error')).toBe(true);
    } finally {
      await chaos(workerHttp('spawn'), 'DELETE');
    }
    // The worker logged the change (pino, info) with the settings.
    const log = await readFile(cluster!.worker('w-spawn').logPath, 'utf8');
    const changes = log.split('\n').filter((l) => l.includes('"chaos-settings"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(changes[0]).toMatchObject({ level: 30, spawnFailRate: 1, crashRate: 0, timeoutRate: 0, cpuShare: 1 });
  });

  it('crashRate 1: the attempts are crashes by SIGKILL', async () => {
    await chaos(workerHttp('crash'), 'PUT', { crashRate: 1 });
    try {
      const { attempts, failureClasses } = await faultAttempts(pinnedRun('chaos-crash', 'crash', 2, (k) => `sleep 5; ${junit(`t${k}`)}`), 2);
      for (const a of attempts) {
        expect(a.result).toMatchObject({ outcome: 'infra-error', infraClass: 'crash', signal: 'SIGKILL' });
        expect(classify(a.result!)).toBe('crash');
      }
      expect(failureClasses.every((c) => c === 'crash')).toBe(true);
    } finally {
      await chaos(workerHttp('crash'), 'DELETE');
    }
  });

  it('timeoutRate 1: the attempts time out', async () => {
    await chaos(workerHttp('timeout'), 'PUT', { timeoutRate: 1 });
    try {
      const { attempts, failureClasses } = await faultAttempts(pinnedRun('chaos-timeout', 'timeout', 2, (k) => `sleep 5; ${junit(`t${k}`)}`), 2);
      for (const a of attempts) {
        expect(a.result).toMatchObject({ outcome: 'infra-error', infraClass: 'timeout' });
        expect(a.result!.reason).toMatch(/timeout injected by chaos hooks/);
        expect(classify(a.result!)).toBe('timeout');
      }
      expect(failureClasses.every((c) => c === 'timeout')).toBe(true);
    } finally {
      await chaos(workerHttp('timeout'), 'DELETE');
    }
  });

  it('cpuShare 0.2 stops a running test now and then; after DELETE /chaos it is never left stopped', async () => {
    const pidFile = join(dir, 'cpu-test.pid');
    await chaos(workerHttp('cpu'), 'PUT', { cpuShare: 0.2 });
    let deleted = false;
    const { runId } = await client!.submitRun(pinnedRun('chaos-cpu', 'cpu', 1, () => `echo $$ > ${pidFile}; sleep 3; ${junit('t1')}`));
    try {
      const pid = await waitFor('the test to write its pid', async () => Number((await readFile(pidFile, 'utf8')).trim()) || undefined, 30_000);
      let stoppedSeen = false;
      for (let i = 0; i < 400 && !stoppedSeen; i++) {
        stoppedSeen = (await procState(pid)) === 'T';
        if (!stoppedSeen) await sleep(5);
      }
      expect(stoppedSeen).toBe(true);
      expect((await chaos(workerHttp('cpu'), 'DELETE')).json).toEqual({ spawnFailRate: 0, crashRate: 0, timeoutRate: 0, cpuShare: 1 });
      deleted = true;
      // Sampled until the test ends (bounded): never stopped again.
      const states: (string | null)[] = [];
      for (let i = 0; i < 1000; i++) {
        const state = await procState(pid);
        states.push(state);
        if (state === null || state === 'Z') break;
        await sleep(5);
      }
      expect(states).not.toContain('T');
      const run = await finishRun(client!, runId, 30_000);
      expect(run.state).toBe('passed');
    } finally {
      if (!deleted) await chaos(workerHttp('cpu'), 'DELETE');
    }
  });

  it('fsyncDelayMs 50: Kv puts still commit, and the fsync histogram grows by at least 50 ms per new observation', async () => {
    const n1 = cluster!.member('n1').httpAddress!;
    for (const id of ['n1', 'n2']) {
      expect(await chaos(cluster!.member(id).httpAddress!, 'PUT', { fsyncDelayMs: 50 })).toEqual({ status: 200, json: { fsyncDelayMs: 50 } });
    }
    try {
      expect((await chaos(n1, 'GET')).json).toEqual({ fsyncDelayMs: 50 });
      // A write already past its hook when the delay was set must not count below. n1 persists its Ready batches
      // one after another, so once it has applied a write proposed after the change, every earlier one is done.
      const fence = await client!.put('chaos-hooks/fence', 'x');
      await waitFor('n1 to apply the fence write', async () => gauge(await (await fetch(`http://${n1}/metrics`)).text(), 'testudo_raft_applied_index') >= fence.index, 20_000);
      const before = histogram(await (await fetch(`http://${n1}/metrics`)).text(), 'testudo_disk_fsync_duration_seconds');
      for (let i = 0; i < 5; i++) await client!.put(`chaos-hooks/k${i}`, `v${i}`);
      for (let i = 0; i < 5; i++) expect(new TextDecoder().decode((await client!.get(`chaos-hooks/k${i}`)).value ?? new Uint8Array())).toBe(`v${i}`);
      const after = histogram(await (await fetch(`http://${n1}/metrics`)).text(), 'testudo_disk_fsync_duration_seconds');
      const observations = after.count - before.count;
      expect(observations).toBeGreaterThan(0);
      expect(after.sum - before.sum).toBeGreaterThanOrEqual(0.05 * observations);
    } finally {
      for (const id of ['n1', 'n2']) await chaos(cluster!.member(id).httpAddress!, 'DELETE');
    }
  });

  it('answers /chaos with 404 on a worker and a coordinator started without --chaos-hooks', async () => {
    expect(await chaos(workerHttp('plain'), 'GET')).toEqual({ status: 404, json: { error: 'chaos hooks are off; start the worker with --chaos-hooks' } });
    expect(await chaos(workerHttp('plain'), 'PUT', { crashRate: 1 })).toMatchObject({ status: 404 });
    const n3 = cluster!.member('n3').httpAddress!;
    expect(await chaos(n3, 'GET')).toEqual({ status: 404, json: { error: 'chaos hooks are off; start the coordinator with --chaos-hooks' } });
    expect(await chaos(n3, 'PUT', { fsyncDelayMs: 50 })).toMatchObject({ status: 404 });
  });
});

describe('testudo worker --chaos-seed', () => {
  it('refuses a seed that is not a u32, before starting anything', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'testudo-hooks-seed-'));
    try {
      const [command, prefix] = testudoCommand();
      for (const seed of ['abc', '-1', '4294967296', '1.5']) {
        const args = [...prefix, 'worker', '--coordinators', '127.0.0.1:1', '--work-dir', workDir, '--chaos-hooks', '--chaos-seed', seed];
        const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, LOG_LEVEL: 'silent' } });
        expect(result.status, seed).toBe(2);
        expect(result.stderr + result.stdout).toMatch(/--chaos-seed must be an integer from 0 to 4294967295/);
      }
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
