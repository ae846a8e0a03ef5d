import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TestudoClient, WorkerInfo } from '../../src/client/index.js';
import { main } from '../../src/cli/main.js';
import { LocalCluster } from '../../src/cluster/local-cluster.js';
import type { RunView } from '../../src/model/index.js';
import { clientFor, memberStatusOf, runTestudo, stableLeader, startCluster, waitFor } from '../integration/harness.js';
import { finishRun, sleepRun, startWorkers } from '../integration/runs-harness.js';

/**
 * Disaster recovery with real processes: a run on cluster A, breaker state
 * set by an operator (a drained worker, a disabled breaker, changed breaker
 * settings), a kv write; `testudo snapshot save` from A; A is stopped (lost);
 * `testudo snapshot restore` writes a fresh data directory for each of three
 * new coordinators (cluster B: other ports, another cluster id); B starts
 * from them and must hold the same runs, run views, reports, workers,
 * breakers and kv, and accept new runs on the old workers' identities.
 */
describe('snapshot save from a running cluster, restore into a new one', () => {
  const clients: TestudoClient[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('keeps runs, history, reports, workers, breakers and kv, and the new cluster accepts runs', async () => {
    // ----------------------------------------------------------- cluster A
    const a = await startCluster();
    cleanups.push(a.cleanup);
    const clientA = clientFor(a.cluster, { totalTimeoutMs: 30_000 });
    clients.push(clientA);
    await startWorkers(a.cluster, clientA, 2, 2);
    await clientA.submitRun(sleepRun('snap-a', 4, 0.2), { runId: 'r-snap-a' });
    const viewA = await finishRun(clientA, 'r-snap-a');
    expect(viewA.state).toBe('passed');
    const idOf = async (client: TestudoClient, name: string): Promise<string> => (await client.listWorkers()).find((w) => w.name === name)!.workerId;
    const [w1, w2] = [await idOf(clientA, 'w1'), await idOf(clientA, 'w2')];
    await clientA.drainWorker(w2);
    await clientA.releaseWorker(w1, { mode: 'disable', reason: 'snapshot test' });
    const breakerA = await clientA.breakerConfig({ openBaseMs: 7_000 });
    const put = await clientA.put('ops/greeting', 'hello');
    const runsA = await clientA.listRuns();
    const workersA = breakerView(await clientA.listWorkers());
    const clusterA = (await memberStatusOf(clientA, a.cluster.member('n1').grpcAddress)).clusterId;

    const file = join(a.dir, 'backup.snap');
    const saved = await runTestudo(['snapshot', 'save', file, '--coordinators', a.cluster.endpoints().join(',')], 60_000);
    expect(saved.code, saved.stderr).toBe(0);
    const summary = JSON.parse(saved.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ file, clusterId: clusterA, runs: 1, runsByState: { passed: 1 }, workers: 2 });
    // Linearizable: the copy holds every write acknowledged before the save began.
    expect(summary['index']).toBeGreaterThanOrEqual(put.index);
    expect((await readdir(a.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    // The disaster: every coordinator of A is gone (its data directories are not used again).
    await a.cluster.stop();

    // ----------------------------------------------------------- cluster B
    const bDir = await mkdtemp(join(tmpdir(), 'testudo-ops-b-'));
    // clusterId null: the members derive the id from --peers, as `snapshot restore` does by default
    // (a hand-started cluster). A long grace: the restored workers keep their state until they reconnect, however slow this machine is.
    const b = new LocalCluster({ coordinators: 3, dataDir: bDir, baseHttpPort: 0, clusterId: null, logLevel: 'info', workerGraceMs: 120_000 });
    cleanups.push(async () => {
      await b.stop();
      await rm(bDir, { recursive: true, force: true });
    });
    await b.prepare();
    const cut = join(bDir, 'cut.snap');
    const whole = await readFile(file);
    await writeFile(cut, whole.subarray(0, whole.byteLength - 10));
    const refused = await cli(['snapshot', 'restore', cut, '--data-dir', b.member('n1').dataDir, '--id', 'n1', '--peers', b.peersFlag()]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/truncated/);
    await expect(readdir(b.member('n1').dataDir)).rejects.toThrow(/ENOENT/);
    for (const m of b.members.values()) {
      // n1 through a `testudo` process, as an operator would; the others in-process, to spare the start-up.
      const args = ['snapshot', 'restore', file, '--data-dir', m.dataDir, '--id', m.id, '--peers', b.peersFlag()];
      const restored = m.id === 'n1' ? await runTestudo(args, 30_000) : await cli(args);
      expect(restored.code, restored.stderr).toBe(0);
      expect(JSON.parse(restored.stdout)).toMatchObject({ nodeId: m.id, index: summary['index'], fromClusterId: clusterA });
    }
    await b.start();
    const clientB = clientFor(b, { totalTimeoutMs: 30_000 });
    clients.push(clientB);
    // Three coordinators starting at once on a loaded machine may take longer than one stableLeader wait.
    await waitFor('a leader in the restored cluster', () => stableLeader(clientB, 3), 90_000);

    const status = await clientB.clusterStatus();
    expect(status.members.map((m) => [m.id, m.address]).sort()).toEqual([...b.members.values()].map((m) => [m.id, m.grpcAddress]).sort());
    const clusterB = (await memberStatusOf(clientB, b.member('n1').grpcAddress)).clusterId;
    expect(clusterB).not.toBe(clusterA);

    // History: the runs list, the run's full view, its reports.
    expect(await clientB.listRuns()).toEqual(runsA);
    expect(stripArchived(await clientB.getRun('r-snap-a'))).toEqual(stripArchived(viewA));
    const reportDir = join(bDir, 'reports-out');
    const report = await cli(['runs', 'report', 'r-snap-a', '--report-dir', reportDir, '--coordinators', b.endpoints().join(',')]);
    expect(report.code, report.stderr + report.stdout).toBe(0);
    const json = await readFile(join(reportDir, 'testudo-report.json'), 'utf8');
    expect(JSON.parse(json)).toMatchObject({ runId: 'r-snap-a', state: 'passed', totals: { tests: 4, passed: 4 } });
    for (const name of ['t1', 't2', 't3', 't4']) expect(json).toContain(`"it::${name}"`);
    // Breaker state and settings, workers, kv.
    expect(breakerView(await clientB.listWorkers())).toEqual(workersA);
    expect(workersA.find((w) => w.workerId === w2)?.state).toBe('draining');
    expect(workersA.find((w) => w.workerId === w1)?.breakerState).toBe('disabled');
    expect(await clientB.breakerConfig()).toEqual(breakerA);
    expect(breakerA['openBaseMs']).toBe(7_000);
    const greeting = await clientB.get('ops/greeting');
    expect(greeting.found).toBe(true);
    expect(Buffer.from(greeting.value ?? []).toString()).toBe('hello');

    // B accepts new runs. The old workers come back with their identities
    // (their work dirs' worker-id, and the session-key the restored state
    // binds each id to): w2 is still drained, so w1 runs them all.
    for (const name of ['w1', 'w2']) {
      await mkdir(join(bDir, 'workers', name), { recursive: true });
      for (const file of ['worker-id', 'session-key']) await copyFile(join(a.dir, 'workers', name, file), join(bDir, 'workers', name, file));
    }
    await startWorkers(b, clientB, 2, 2);
    await clientB.submitRun(sleepRun('snap-b', 3, 0.2), { runId: 'r-snap-b' });
    const viewB = await finishRun(clientB, 'r-snap-b');
    expect(viewB.state).toBe('passed');
    expect(new Set(viewB.tasks.flatMap((t) => t.attempts.map((at) => at.workerId)))).toEqual(new Set([w1]));
    await waitFor('both runs listed', async () => (await clientB.listRuns()).length === 2);
  }, 240_000);
});

/** What an operator set on each worker (connection state left out: B's sessions are new). */
function breakerView(workers: readonly WorkerInfo[]): { workerId: string; state: string; breakerState: string; breakerReason: string }[] {
  return workers
    .map((w) => ({ workerId: w.workerId, state: w.state, breakerState: w.breakerState, breakerReason: w.breakerReason }))
    .sort((x, y) => x.workerId.localeCompare(y.workerId));
}

/** The `testudo` command run in this process (the same entry point as the binary). */
async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, (t) => out.push(t), (t) => err.push(t));
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function stripArchived(view: RunView & { archived?: boolean }): RunView {
  const { archived: _archived, ...rest } = view;
  return rest;
}
