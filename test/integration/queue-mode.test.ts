import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { mergeRun } from '../../src/report/merge.js';
import { expandSpec, loadSpec } from '../../src/spec/index.js';
import { clientFor, startCluster, waitFor } from './harness.js';
import { finishRun, startWorkers } from './runs-harness.js';

/**
 * Queue mode end to end on real processes (3 coordinators, 2 worker
 * processes × 2 slots): a `shards: {count: 3, by: queue}` suite from a real
 * spec, a kill -9 of a worker while it runs a batch, and the final merged
 * report, which must list each file's test exactly once.
 */
const fileCount = 14;
// Each test file is a shell fragment: it sleeps, then prints its own test case.
const fileNames = Array.from({ length: fileCount }, (_, i) => `t/f${String(i + 1).padStart(2, '0')}.sh`);
const spec = `name: queue-it
suites:
  - name: q
    command: 'r=""; for f in $TESTUDO_FILES; do r="$r$(sh $f)"; done; printf "<testsuite name=\\"q\\">%s</testsuite>" "$r" > "$TESTUDO_JUNIT"'
    files: "t/*.sh"
    shards: {count: 3, by: queue}
`;

describe('queue mode on a real cluster', () => {
  let shared: { cluster: LocalCluster; client: TestudoClient; dir: string; cleanup: () => Promise<void> } | null = null;

  beforeAll(async () => {
    // A short TTL, so the killed worker is declared lost (and its batch moved) quickly.
    const started = await startCluster({ basePort: 0, workerTtlMs: 1500, workerGraceMs: 2000 });
    const client = clientFor(started.cluster, { totalTimeoutMs: 30_000 });
    shared = { cluster: started.cluster, client, dir: started.dir, cleanup: started.cleanup };
    await startWorkers(started.cluster, client, 2, 2);
  });

  afterAll(async () => {
    shared?.client.close();
    await shared?.cleanup();
  });

  it('runs each file exactly once in the final report across a kill -9 of a worker mid-batch', async () => {
    const { cluster, client, dir } = shared!;
    const source = join(dir, 'src');
    await mkdir(join(source, 't'), { recursive: true });
    for (const name of fileNames) {
      await writeFile(join(source, name), `sleep 0.4; printf '<testcase classname="q" name="${name}" file="${name}" time="0.4"/>'\n`);
    }
    await writeFile(join(source, 'testudo.yaml'), spec);
    const submission = await expandSpec(await loadSpec(join(source, 'testudo.yaml'), { env: {} }));
    expect(submission.tasks.map((t) => t.queue)).toEqual([true, true, true]);
    const { runId } = await client.submitRun(submission);

    const victim = await waitFor('w1 running a batch', async () => {
      const workers = await client.listWorkers();
      return workers.find((w) => w.name === 'w1' && w.running.length > 0);
    });
    // Assigned is not enough: wait until the worker has begun the batch (its files carved and sent).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cluster.killWorker('w1');
    const run = await finishRun(client, runId);

    expect(run.state).toBe('passed');
    const lost = run.tasks.filter((t) => t.attempts.some((a) => a.state === 'lost'));
    expect(lost.length).toBeGreaterThan(0);
    for (const task of lost) {
      // The lost batch ran again, elsewhere, with the files it had carved.
      const passed = task.attempts.filter((a) => a.state === 'passed');
      expect(passed).toHaveLength(1);
      expect(passed[0]!.workerId).not.toBe(victim.workerId);
      expect(passed[0]!.result?.tests.map((t) => t.file).sort()).toEqual([...task.files].sort());
    }
    // More batches than lanes: the queue refilled them; every file in exactly one batch.
    expect(run.tasks.length).toBeGreaterThan(3);
    expect(run.tasks.flatMap((t) => t.files).sort()).toEqual(fileNames);
    const report = mergeRun(run);
    const files = report.suites.flatMap((s) => s.tests.map((t) => t.file)).sort();
    expect(files).toEqual(fileNames);
  }, 60_000);
});
