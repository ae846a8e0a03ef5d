import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import type { AttemptView, RunView } from '../../src/model/index.js';
import { clientFor, startCluster, waitFor } from './harness.js';
import { finishRun, sleepRun } from './runs-harness.js';

/**
 * Cancelling a run and draining a worker, across real processes: three
 * coordinators, three worker processes (2 slots each) running real shell
 * commands in their own process groups.
 */

/** A task's processes, as its command wrote them: the shell, its process group and a background child. */
interface TaskProcesses {
  readonly shell: number;
  readonly pgid: number;
  readonly child: number;
}

/**
 * A command that records its processes in `<dir>/t<k>.pids` (written whole,
 * then renamed) and then waits on a background sleep that would outlast the
 * test: only a signal to the group ends it.
 */
function recordingCommand(dir: string, k: number): string {
  const file = join(dir, `t${k}.pids`);
  return `sleep 600 & echo "$$ $(ps -o pgid= -p $$) $!" > '${file}.tmp' && mv '${file}.tmp' '${file}'; wait`;
}

async function taskProcesses(dir: string): Promise<TaskProcesses[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.pids'));
  return Promise.all(
    names.map(async (n) => {
      const [shell, pgid, child] = (await readFile(join(dir, n), 'utf8')).trim().split(/\s+/).map(Number);
      if (!(shell! > 1 && pgid! > 1 && child! > 1)) throw new Error(`${n} does not hold three pids`);
      return { shell: shell!, pgid: pgid!, child: child! };
    }),
  );
}

/** Live (not zombie) processes in process group `pgid`, from /proc. */
async function liveGroupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after "(comm)": state ppid pgrp …; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** The end of each worker's log, for a failure message. */
async function workerLogTails(cluster: LocalCluster): Promise<string> {
  const parts: string[] = [];
  for (const w of cluster.workers.values()) {
    const text = await readFile(w.logPath, 'utf8').catch(() => '(no log)');
    parts.push(`--- ${w.id} (${w.child === null ? 'exited' : 'running'}):\n${text.split('\n').slice(-8).join('\n')}`);
  }
  return parts.join('\n');
}

const onWorker = (run: RunView, workerId: string): AttemptView[] => run.tasks.flatMap((t) => t.attempts).filter((a) => a.workerId === workerId);

describe('cancel and drain across real processes', () => {
  let cluster: LocalCluster;
  let client: TestudoClient;
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const started = await startCluster({ basePort: 0 });
    ({ cluster, dir, cleanup } = started);
    client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    for (let i = 1; i <= 3; i++) await cluster.startWorker(`w${i}`, { slots: 2, killGraceMs: 500 });
    // Workers may need a while to find the first leader on a loaded machine; say what they logged if they never do.
    await waitFor('3 connected workers', async () => (await client.listWorkers()).filter((w) => w.connected).length >= 3, 90_000).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${await workerLogTails(cluster)}`, { cause: error });
    });
  }, 150_000);

  afterAll(async () => {
    client?.close();
    await cleanup();
  });

  it('cancelling a run kills each running attempt’s whole process group and ends the run cancelled', async () => {
    const pidDir = join(dir, 'cancel-pids');
    await mkdir(pidDir);
    const tasks = 4;
    const base = sleepRun('cancel-me', tasks, 0, { timeoutSec: 600 });
    const submission = { ...base, tasks: base.tasks.map((t) => ({ ...t, command: recordingCommand(pidDir, t.shard) })) };
    const { runId } = await client.submitRun(submission);
    const recorded = await waitFor(`${tasks} tasks to record their processes`, async () => {
      const found = await taskProcesses(pidDir);
      return found.length === tasks ? found : undefined;
    }, 60_000);
    for (const p of recorded) expect((await liveGroupMembers(p.pgid)).sort()).toEqual([p.shell, p.child].sort());

    const cancelled = await client.cancelRun(runId, 'cancelled by the test');
    expect(cancelled.cancelledAttempts).toBe(tasks);
    const run = await finishRun(client, runId, 30_000);
    expect(run.state).toBe('cancelled');
    expect(run.tasks.map((t) => t.state)).toEqual(Array<string>(tasks).fill('cancelled'));
    expect(run.tasks.map((t) => t.attempts.map((a) => a.state))).toEqual(Array.from({ length: tasks }, () => ['cancelled']));
    // The workers got the cancel and killed each group: no live process is left in any of them.
    for (const p of recorded) {
      await waitFor(`process group ${p.pgid} (shell ${p.shell}, child ${p.child}) to die`, async () => (await liveGroupMembers(p.pgid)).length === 0, 20_000);
    }
  }, 150_000);

  it('a drained worker takes nothing new, finishes what it runs, and the others take the rest', async () => {
    const tasks = 12;
    const { runId } = await client.submitRun(sleepRun('drain-w1', tasks, 3));
    // Drain w1 while it runs attempts, so there is something in flight to finish.
    const ids = new Map((await client.listWorkers()).map((w) => [w.name, w.workerId]));
    const w1 = ids.get('w1')!;
    await waitFor('w1 to run an attempt', async () => onWorker(await client.getRun(runId), w1).some((a) => a.state === 'running'), 30_000);
    expect(await client.drainWorker(w1)).toEqual({ state: 'draining' });
    // Read after the drain committed: every attempt w1 will ever get in this run is already here.
    const atDrain = onWorker(await client.getRun(runId), w1);
    const inFlight = atDrain.filter((a) => a.state === 'running').map((a) => a.attemptId);
    expect(inFlight.length).toBeGreaterThan(0);

    const run = await finishRun(client, runId, 120_000);
    expect(run.state).toBe('passed');
    expect(run.tasks.every((t) => t.state === 'passed')).toBe(true);
    const after = onWorker(run, w1);
    expect(after.map((a) => a.attemptId)).toEqual(atDrain.map((a) => a.attemptId));
    // Its attempts in flight at the drain ran to the end and were counted.
    for (const id of inFlight) expect(after.find((a) => a.attemptId === id)?.state).toBe('passed');
    const others = run.tasks.flatMap((t) => t.attempts).filter((a) => a.workerId !== w1);
    expect(others.length).toBe(tasks - atDrain.length);
    expect(new Set(others.map((a) => a.workerId))).toEqual(new Set([ids.get('w2'), ids.get('w3')]));
    expect((await client.listWorkers()).find((w) => w.workerId === w1)).toMatchObject({ state: 'draining', connected: true, running: [] });
  }, 180_000);
});
