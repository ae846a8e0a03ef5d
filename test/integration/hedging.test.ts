import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { duplicateResults } from '../../src/failure-injection/analysis.js';
import type { RunSubmission } from '../../src/model/index.js';
import { noopTemplate } from '../../src/bench/schedule.js';
import { isAlive } from '../../src/worker/identity.js';
import { clientFor, startCluster, waitFor } from './harness.js';
import { countedAttempts, finishRun, startWorkers } from './runs-harness.js';

const script = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'straggle-once.sh');

/**
 * Hedging at the tail on real processes: 3 coordinators, 2 workers of one
 * slot. A first run teaches the timing history that the task takes 0.3 s;
 * in the second, its first attempt hangs (sleeps until killed). Past its
 * hedge point the leader starts a hedge on the idle worker; the leader is
 * then killed with SIGKILL while both run. The hedge's verdict must be the
 * one counted, once, by the next leader; the straggler must be cancelled
 * and its process stopped; the chaos duplicate check must find nothing.
 */
describe('hedging a straggler, across a kill -9 of the leader', () => {
  let cluster: LocalCluster;
  let client: TestudoClient;
  let cleanup: () => Promise<void>;
  let marks: string;

  beforeAll(async () => {
    const started = await startCluster({ basePort: 0 });
    cluster = started.cluster;
    cleanup = started.cleanup;
    marks = await mkdtemp(join(tmpdir(), 'testudo-hedge-'));
    client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    await client.breakerConfig({ prefetchPerSlot: 0, hedgeAfterFactor: 2, hedgeMinMs: 500 });
    await startWorkers(cluster, client, 2, 1);
  }, 90_000);

  afterAll(async () => {
    client?.close();
    await cleanup?.();
    if (marks !== undefined) await rm(marks, { recursive: true, force: true });
  });

  function run(name: string, mark: string, straggling: string): RunSubmission {
    const template = { ...noopTemplate(), suite: 'hedge', command: `sh ${script} ${mark} ${straggling} 0.3 3`, shard: 1, shardCount: 1 };
    return { name, setup: [], setupCacheKey: '', sourceDir: '/tmp', tasks: [template] };
  }

  it('counts the hedge once, cancels the straggler and stops its process', async () => {
    const mark = join(marks, 'first-attempt');
    const straggling = 'it-hedge-straggling';
    const history = await client.submitRun(run('hedge-history', mark, straggling), { runId: 'it-hedge-history' });
    expect((await finishRun(client, history.runId, 60_000)).state).toBe('passed');

    await client.submitRun(run('hedge', mark, straggling), { runId: straggling });
    const hedged = await waitFor('a hedge running beside the straggler', async () => {
      const view = await client.getRun(straggling);
      const attempts = view.tasks[0]?.attempts ?? [];
      return attempts.length === 2 && attempts.every((a) => a.state === 'running') && attempts[1]!.hedge === true ? attempts : undefined;
    }, 30_000);
    expect(hedged[0]!.workerId).not.toBe(hedged[1]!.workerId);
    const stragglerPid = Number((await readFile(join(mark, 'pid'), 'utf8')).trim());
    expect(stragglerPid).toBeGreaterThan(0);

    const killed = (await client.clusterStatus()).leaderId;
    await cluster.kill(killed, 'SIGKILL');

    const done = await finishRun(client, straggling, 60_000);
    expect(done.state).toBe('passed');
    const attempts = done.tasks[0]!.attempts;
    expect(attempts.map((a) => [a.state, a.hedge === true])).toEqual([
      ['cancelled', false],
      ['passed', true],
    ]);
    expect(attempts[0]!.reason).toMatch(/superseded: attempt 2 ended passed first/);
    expect([...countedAttempts(done).values()]).toEqual([1]);
    expect(duplicateResults(done)).toEqual([]);
    // The straggler's worker was told to stop it: its process goes away (it would sleep 120 s).
    await waitFor('the straggling process to be stopped', () => !isAlive(stragglerPid), 20_000);
    const leader = cluster.member((await client.clusterStatus()).leaderId);
    const metrics = await (await fetch(`http://${leader.httpAddress!}/metrics`)).text();
    expect(metrics).toMatch(/^testudo_hedges_total\{[^}]*step="won"[^}]*\} 1$/m);
  }, 120_000);
});
