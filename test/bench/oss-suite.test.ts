import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compareOutcomes, outcomeDifferencesShownMax, outcomeOf, type TestOutcome } from '../../src/bench/oss-compare.js';
import { directShards, OssSuiteSpecError, runRound, suitePlan, waitClusterQuiet } from '../../src/bench/oss-suite.js';
import { TestudoClient } from '../../src/client/index.js';
import { LocalCluster } from '../../src/cluster/local-cluster.js';
import { waitLocalClusterReady } from '../../src/cluster/ready.js';
import type { RunSubmission, TaskTemplate } from '../../src/model/types.js';
import { expandSpec, loadSpec } from '../../src/spec/index.js';

const fixtureSpec = resolve(import.meta.dirname, '../fixtures/oss-mini/testudo.yaml');
const plantedId = 'test::passes directly, fails under a worker when planted';

function outcomes(...pairs: [string, TestOutcome['status']][]): TestOutcome[] {
  return pairs.map(([id, status]) => ({ id, status }));
}

describe('bench oss-suite: the comparison', () => {
  it('finds equal outcomes equal, whatever the order', () => {
    const a = outcomes(['s::one', 'passed'], ['s::two', 'failed'], ['s::three', 'skipped']);
    const c = compareOutcomes(a, [...a].reverse());
    expect(c).toMatchObject({ same: true, differenceCount: 0, differences: [] });
    expect(c.direct).toEqual({ tests: 3, passed: 1, failed: 1, errors: 0, skipped: 1 });
  });

  it('reports a planted flip, a missing test and an extra one, by id', () => {
    const direct = outcomes(['s::one', 'passed'], ['s::two', 'failed'], ['s::gone', 'passed']);
    const cluster = outcomes(['s::one', 'failed'], ['s::two', 'failed'], ['s::new', 'skipped']);
    const c = compareOutcomes(direct, cluster);
    expect(c.same).toBe(false);
    expect(c.differences).toEqual([
      { id: 's::gone', direct: ['passed'], cluster: [] },
      { id: 's::new', direct: [], cluster: ['skipped'] },
      { id: 's::one', direct: ['passed'], cluster: ['failed'] },
    ]);
  });

  it('counts a repeated name as that many tests: one of two occurrences flipped, or lost, is a difference', () => {
    const twice = outcomes(['s::same name', 'passed'], ['s::same name', 'failed']);
    expect(compareOutcomes(twice, [...twice].reverse()).same).toBe(true);
    expect(compareOutcomes(twice, outcomes(['s::same name', 'passed'], ['s::same name', 'passed'])).differenceCount).toBe(1);
    expect(compareOutcomes(twice, outcomes(['s::same name', 'failed'])).differences).toEqual([{ id: 's::same name', direct: ['failed', 'passed'], cluster: ['failed'] }]);
  });

  it('lists at most outcomeDifferencesShownMax differences but counts them all', () => {
    const direct = Array.from({ length: outcomeDifferencesShownMax + 7 }, (_, i) => ({ id: `s::t${i}`, status: 'passed' as const }));
    const c = compareOutcomes(direct, []);
    expect(c.differenceCount).toBe(outcomeDifferencesShownMax + 7);
    expect(c.differences).toHaveLength(outcomeDifferencesShownMax);
  });

  it('names a JUnit case as the merged report does', () => {
    expect(outcomeOf({ classname: 'add Array', name: 'adds', status: 'error' })).toEqual({ id: 'add Array::adds', status: 'error' });
  });
});

describe('bench oss-suite: the direct split', () => {
  const files = ['a', 'b', 'c', 'd', 'e'];

  it('deals files evenly by count without a history, each file once', () => {
    const shards = directShards(files, new Map(), 2);
    expect(shards.flat().sort()).toEqual(files);
    expect(shards.map((s) => s.length).sort()).toEqual([2, 3]);
  });

  it('splits longest first by the history, as by: timings does', () => {
    const shards = directShards(files, new Map([['a', 10], ['b', 4], ['c', 3], ['d', 2], ['e', 1]]), 2);
    expect(shards).toEqual([['a'], ['b', 'c', 'd', 'e']]);
  });

  it('refuses a spec that is not one suite sharded into the parallelism', async () => {
    const submission = await expandSpec(await loadSpec(fixtureSpec));
    expect(() => suitePlan(submission, 3)).toThrow(OssSuiteSpecError);
    const other: TaskTemplate = { ...submission.tasks[0]!, suite: 'other' };
    expect(() => suitePlan({ ...submission, tasks: [...submission.tasks, other] }, 2)).toThrow(/exactly one suite/);
    expect(() => suitePlan({ ...submission, tasks: submission.tasks.map((t) => ({ ...t, queue: true })) }, 2)).toThrow(/by: queue/);
    const plan = suitePlan(submission, 2);
    expect(plan.files).toEqual(['test/arithmetic.test.mjs', 'test/failing.test.mjs', 'test/planted.test.mjs', 'test/strings.test.mjs']);
    expect(plan.cwd).toBe(resolve(import.meta.dirname, '../fixtures/oss-mini'));
  });
});

describe('bench oss-suite: a node --test suite directly and through a local cluster', () => {
  let dataDir: string;
  let cluster: LocalCluster | undefined;
  let client: TestudoClient | undefined;
  let submission: RunSubmission;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'testudo-oss-test-'));
    // One coordinator is enough here and starts fastest; the bench itself runs three.
    cluster = new LocalCluster({ coordinators: 1, dataDir: join(dataDir, 'cluster'), basePort: 0, baseHttpPort: null });
    await cluster.start();
    for (const id of ['w1', 'w2']) await cluster.startWorker(id, { slots: 1, httpPort: null });
    client = new TestudoClient({ endpoints: cluster.endpoints(), callTimeoutMs: 10_000, totalTimeoutMs: 60_000 });
    await waitLocalClusterReady(cluster, client, { timeoutMs: 60_000, workers: 2 });
    submission = await expandSpec(await loadSpec(fixtureSpec));
  });

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gives the same per-test outcomes both ways, the deliberate failure and the skips included', async () => {
    const plan = suitePlan(submission, 2);
    const detail = await runRound(plan, submission, client!, join(dataDir, 'same'), () => waitClusterQuiet(cluster!));
    expect(detail.comparison.differences).toEqual([]);
    expect(detail.comparison.same).toBe(true);
    expect(detail.comparison.direct).toEqual({ tests: 13, passed: 10, failed: 1, errors: 0, skipped: 2 });
    expect(detail.clusterState).toBe('failed');
    expect(detail.round.directShardMs).toHaveLength(2);
    expect(detail.round.settleMs).toHaveLength(2);
    expect(detail.clusterShards.flat().sort()).toEqual(plan.files);
  });

  it('reports the planted difference: one test that fails only under a worker', async () => {
    const planted: RunSubmission = { ...submission, tasks: submission.tasks.map((t) => ({ ...t, env: { ...t.env, OSS_MINI_PLANT: '1' } })) };
    const plan = suitePlan(planted, 2);
    const detail = await runRound(plan, planted, client!, join(dataDir, 'planted'), () => waitClusterQuiet(cluster!));
    expect(detail.comparison.same).toBe(false);
    expect(detail.comparison.differences).toEqual([{ id: plantedId, direct: ['passed'], cluster: ['failed'] }]);
    expect(detail.round).toMatchObject({ same: false, differenceCount: 1 });
  });
});
