// End to end on real processes (a coordinator with Raft on LevelDB, a worker
// process, the CLI): a spec's env values reach the worker's commands but no
// caller (GetRun, the report archive, `runs show --json`, the reports); and
// the worker removes finished attempts' files past its bound.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { maskedEnvValue } from '../../src/report/mask.js';
import { writeReports } from '../../src/report/write-reports.js';
import { runCli } from '../cli/cli-process.js';
import { clientFor, startCluster, waitFor } from '../integration/harness.js';
import { sleepRun } from '../integration/runs-harness.js';

const secret = 'hunter2-s3cr3t-7f3a91';
const suiteSecret = 'suite-token-c0ffee-42';

describe('run data on real processes', () => {
  let cluster: LocalCluster;
  let client: TestudoClient;
  let dir: string;
  let cleanup: () => Promise<void>;
  let runId: string;

  beforeAll(async () => {
    const started = await startCluster({ coordinators: 1, basePort: 0 });
    ({ cluster, dir, cleanup } = started);
    client = clientFor(cluster, { totalTimeoutMs: 30_000 });
    // One slot, so attempts end one after the other; keep one attempt's files.
    await cluster.startWorker('w1', { slots: 1, killGraceMs: 500, extraArgs: ['--attempt-dirs-max', '1'] });
    await waitFor('the worker connected', async () => (await client.listWorkers()).some((w) => w.connected), 30_000);
    // Each task passes only if its command sees the real values (compared by digest: the command is not masked).
    const run = sleepRun('secrets', 3, 0);
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    const digestOf = (name: string): string => `"$(printf %s "$${name}" | sha256sum | cut -c1-64)"`;
    const check = `[ ${digestOf('API_TOKEN')} = ${sha(secret)} ] && [ ${digestOf('SUITE_TOKEN')} = ${sha(suiteSecret)} ] && [ "$PLAIN" = "" ] || exit 7; `;
    const submission = { ...run, tasks: run.tasks.map((t) => ({ ...t, command: check + t.command, env: { API_TOKEN: secret, SUITE_TOKEN: suiteSecret, PLAIN: '' } })) };
    runId = (await client.submitRun(submission)).runId;
    await waitFor(`run ${runId} to end`, async () => (await client.getRun(runId)).state !== 'running', 60_000);
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await cleanup?.();
  });

  it('the worker ran with the real env values (every task passed)', async () => {
    const run = await client.getRun(runId);
    expect(run.tasks.map((t) => `${t.taskId}:${t.state}:${t.attempts.map((a) => a.result?.exitCode ?? a.reason).join(',')}`)).toEqual(
      run.tasks.map((t) => `${t.taskId}:passed:0`),
    );
  });

  it('GetRun (live and archived), `runs show --json`, `runs report` and the reports show only masked values', async () => {
    const run = await client.getRun(runId);
    for (const t of run.tasks) expect(t.template.env).toEqual({ API_TOKEN: maskedEnvValue, SUITE_TOKEN: maskedEnvValue, PLAIN: maskedEnvValue });
    expect(JSON.stringify(run)).not.toContain(secret);

    // The archive the coordinator writes when the run ends (what GetRun answers once the run is pruned).
    const member = [...cluster.members.values()][0]!;
    const archive = join(member.dataDir, 'reports', `${runId}.json.deflate`);
    const archived = await waitFor('the run archived', async () => {
      try {
        return inflateRawSync(await readFile(archive)).toString('utf8');
      } catch {
        return undefined;
      }
    });
    expect(archived).toContain(`"API_TOKEN":"${maskedEnvValue}"`);
    expect(archived).not.toContain(secret);
    expect(archived).not.toContain(suiteSecret);

    const endpoints = cluster.endpoints().join(',');
    const reportDir = join(dir, 'report');
    const [show, report] = await Promise.all([
      runCli(['runs', 'show', runId, '--json', '--coordinators', endpoints]),
      runCli(['runs', 'report', runId, '--report-dir', reportDir, '--coordinators', endpoints]),
    ]);
    expect(show.code, show.stderr.toString()).toBe(0);
    expect(JSON.parse(show.stdout.toString()).tasks[0].template.env.API_TOKEN).toBe(maskedEnvValue);
    expect(report.code, report.stderr.toString()).toBe(0);
    for (const o of [show, report]) expect(Buffer.concat([o.stdout, o.stderr]).toString()).not.toContain(secret);
    const written = await readdir(reportDir);
    expect(written.length).toBeGreaterThanOrEqual(4);
    for (const name of written) {
      const text = await readFile(join(reportDir, name), 'utf8');
      expect(text, name).not.toContain(secret);
      expect(text, name).not.toContain(suiteSecret);
    }

    // Reports written in-process from a view that still holds the values are masked too.
    const clear = { ...run, tasks: run.tasks.map((t) => ({ ...t, template: { ...t.template, env: { API_TOKEN: secret } } })) };
    const paths = await writeReports(clear, join(dir, 'report-local'));
    for (const file of Object.values(paths)) expect(await readFile(file, 'utf8'), file).not.toContain(secret);
  });

  it('the worker keeps the files of its last --attempt-dirs-max attempts and removes the others', async () => {
    const worker = cluster.workers.get('w1')!;
    const run = await client.getRun(runId);
    const byFinish = run.tasks
      .flatMap((t) => t.attempts)
      .sort((a, b) => (a.result?.finishedAtMs ?? 0) - (b.result?.finishedAtMs ?? 0))
      .map((a) => a.attemptId);
    expect(byFinish).toHaveLength(3);
    const attempts = join(worker.workDir, 'attempts');
    // The last confirmation reaches the worker shortly after the run ends.
    const left = await waitFor('old attempts removed', async () => {
      const names = await readdir(attempts);
      return names.length === 1 ? names : undefined;
    }, 30_000);
    expect(left).toEqual([byFinish[2]]);
    const logOf = (attemptId: string) => fetch(`http://${worker.httpAddress!}/logs/${attemptId}`);
    expect((await logOf(byFinish[2]!)).status).toBe(200);
    expect((await logOf(byFinish[0]!)).status).toBe(404);
  });
});
