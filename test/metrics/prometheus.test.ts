import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clientTlsCredentials, type TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { testudoVersion } from '../../src/common/version.js';
import type { RunView } from '../../src/model/index.js';
import { readTokenFile } from '../../src/security/auth-token.js';
import { initCerts } from '../../src/security/certs.js';
import { httpsGet } from '../../src/security/tls-http.js';
import { ReloadableTls } from '../../src/security/tls.js';
import { clientFor, stableLeader, startCluster } from '../integration/harness.js';
import { finishRun, sleepRun } from '../integration/runs-harness.js';
import { checkMetrics, pollUntil, prometheusConfig, requireBinary, startPrometheus, type LintProblem, type RunningPrometheus, type Sample } from './prometheus-harness.js';

/**
 * Testudo's /metrics against the real Prometheus tools (Debian's
 * `prometheus` package): `promtool check metrics` on live scrapes of a
 * leader, a follower and a worker, and a Prometheus server scraping a
 * 3-coordinator cluster with a worker through one small run. One cluster
 * for the whole file, with TLS and tokens on: certificates, tokens and the
 * auth file from `certs init --tokens`; every coordinator and the worker
 * serve HTTPS; Prometheus scrapes with the CA, a client certificate and the
 * readonly token as its bearer credentials file.
 */

/**
 * Problems promtool reports in prom-client's standard Node.js metrics, which
 * keep their usual names (dashboards for Node services use them): three
 * gauges end in `_total`. Any other problem fails the test.
 */
const knownDefaultMetricProblems: readonly string[] = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

function unexpectedProblems(problems: readonly LintProblem[]): LintProblem[] {
  return problems.filter((p) => !(knownDefaultMetricProblems.includes(p.metric) && /non-counter metrics should not have "_total" suffix/.test(p.text)));
}

/** The files `certs init --tokens` wrote for this file's cluster. */
interface Material {
  readonly dir: string;
  readonly ca: string;
  readonly pair: (name: string) => { certFile: string; keyFile: string };
  readonly token: (name: string) => string;
}

let material: Material;
let scrapeTls: ReloadableTls;

async function makeMaterial(): Promise<Material> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-metrics-certs-'));
  await initCerts({ dir, hosts: [], identities: ['worker', 'client'], days: 2, force: false, tokenPeers: ['n1', 'n2', 'n3'] });
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    pair: (name) => ({ certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) }),
    token: (name) => join(dir, 'tokens', `${name}.token`),
  };
}

/** GET /metrics as Prometheus does: HTTPS with the CA, a client certificate and the readonly token. */
async function scrape(address: string): Promise<string> {
  const response = await httpsGet(`https://${address}/metrics`, scrapeTls, { timeoutMs: 5000, headers: { authorization: `Bearer ${readTokenFile(material.token('readonly'))}` } });
  expect(response.status).toBe(200);
  return response.text();
}

/** Prometheus's view of one label → value, from a `by (label)` query. */
function byLabel(samples: readonly Sample[], label: string): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [s.metric[label] ?? '', s.value]));
}

describe('metrics checked by promtool and scraped by a real Prometheus', () => {
  let cluster: LocalCluster;
  let client: TestudoClient;
  let cleanup: (() => Promise<void>) | null = null;
  let prometheus: RunningPrometheus | null = null;

  beforeAll(async () => {
    material = await makeMaterial();
    const m = material;
    scrapeTls = ReloadableTls.load({ caFile: m.ca, ...m.pair('client') });
    const tlsArgs = (name: string): string[] => ['--tls-ca', m.ca, '--tls-cert', m.pair(name).certFile, '--tls-key', m.pair(name).keyFile];
    const started = await startCluster({ basePort: 0, memberArgs: (id) => [...tlsArgs('node'), '--auth-file', join(m.dir, 'auth.yaml'), '--token-file', m.token(id)] });
    cleanup = started.cleanup;
    cluster = started.cluster;
    client = clientFor(cluster, { totalTimeoutMs: 30_000, credentials: clientTlsCredentials({ caFile: m.ca, ...m.pair('client') }), token: readTokenFile(m.token('client')) });
    await cluster.startWorker('w1', { slots: 2, killGraceMs: 500, extraArgs: [...tlsArgs('worker'), '--token-file', m.token('worker')] });
    await pollUntil('worker w1 connected', async () => ((await client.listWorkers()).some((w) => w.connected) ? true : undefined), 60_000, 100);
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    client?.close();
    await cleanup?.();
    if (material !== undefined) await rm(material.dir, { recursive: true, force: true });
  });

  it('the HTTP ports serve HTTPS only, and a coordinator refuses a scrape without the token', async () => {
    const address = [...cluster.members.values()][0]!.httpAddress!;
    await expect(fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    const bare = await httpsGet(`https://${address}/metrics`, scrapeTls, { timeoutMs: 5000 });
    expect(bare.status).toBe(401);
  });

  it('promtool complains about a planted counter without _total, and passes a clean text', async () => {
    const promtool = await requireBinary('promtool');
    const planted = ['# HELP testudo_planted_events A counter missing its suffix.', '# TYPE testudo_planted_events counter', 'testudo_planted_events 3', ''].join('\n');
    const bad = await checkMetrics(promtool, planted);
    expect(bad.code, bad.output).not.toBe(0);
    expect(bad.problems.find((p) => p.metric === 'testudo_planted_events')?.text, bad.output).toMatch(/counter metrics should have "_total" suffix/);

    const clean = ['# HELP testudo_planted_events_total A counter with its suffix.', '# TYPE testudo_planted_events_total counter', 'testudo_planted_events_total 3', ''].join('\n');
    const good = await checkMetrics(promtool, clean);
    expect(good.problems, good.output).toEqual([]);
    expect(good.code).toBe(0);
  });

  it('a leader, a follower and a worker pass promtool check metrics', async () => {
    const promtool = await requireBinary('promtool');
    const { leaderId } = await stableLeader(client, 3);
    const follower = [...cluster.members.values()].find((m) => m.id !== leaderId)!;
    const targets: [string, string][] = [
      ['leader', cluster.member(leaderId).httpAddress!],
      ['follower', follower.httpAddress!],
      ['worker', cluster.worker('w1').httpAddress!],
    ];
    for (const [role, address] of targets) {
      const text = await scrape(address);
      expect(text, role).toContain('# TYPE testudo_build_info gauge');
      const { problems, output } = await checkMetrics(promtool, text);
      expect(problems.filter((p) => p.metric.startsWith('testudo_')), `${role}: ${output}`).toEqual([]);
      expect(unexpectedProblems(problems), `${role}: ${output}`).toEqual([]);
    }
    // The follower carries no series of the leader-only gauges; the leader does.
    const leaderText = await scrape(cluster.member(leaderId).httpAddress!);
    const followerText = await scrape(follower.httpAddress!);
    for (const name of ['testudo_runs', 'testudo_tasks', 'testudo_workers', 'testudo_worker_sessions', 'testudo_breaker_state']) {
      expect(leaderText, name).toMatch(new RegExp(`^${name}(\\{| )`, 'm'));
      expect(followerText, name).not.toMatch(new RegExp(`^${name}(\\{| )`, 'm'));
    }
    // Workers export Node's process metrics under their standard names.
    const workerText = await scrape(cluster.worker('w1').httpAddress!);
    expect(workerText).toContain('# TYPE process_cpu_seconds_total counter');
    expect(workerText).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(workerText).not.toContain('testudo_worker_process_');
  });

  it('Prometheus sees every node up, one leader, and task gauges that match the run', async () => {
    const prometheusBinary = await requireBinary('prometheus');
    const coordinators = [...cluster.members.values()].map((m) => m.httpAddress!);
    const worker = cluster.worker('w1').httpAddress!;
    const config = prometheusConfig({
      jobs: [
        { job: 'testudo-coordinator', targets: coordinators },
        { job: 'testudo-worker', targets: [worker] },
      ],
      tls: { caFile: material.ca, ...material.pair('client') },
      bearerTokenFile: material.token('readonly'),
      scrapeIntervalSeconds: 1,
    });
    prometheus = await startPrometheus(prometheusBinary, config);
    const prom = prometheus;
    const targetsTotal = coordinators.length + 1;
    const allUp = await pollUntil(
      'every target up',
      async () => {
        const up = await prom.query('up');
        return up.length === targetsTotal && up.every((s) => s.value === 1) ? up : undefined;
      },
      60_000,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\nprometheus log:\n${await prom.log()}`);
    });
    expect(allUp.map((s) => s.metric['instance']).sort()).toEqual([...coordinators, worker].sort());

    const run = await runSmallRun(client);
    expect(run.counts.passed).toBe(3);
    expect(run.counts.failed).toBe(1);

    // Leader-only gauges: summed over every replica they are the run's counts, and one node exports them.
    const expected: Record<string, number> = {
      queued: run.counts.queued,
      running: run.counts.running,
      passed: run.counts.passed,
      failed: run.counts.failed,
      cancelled: run.counts.cancelled,
      failed_infra: run.counts.failedInfra,
    };
    // The report's counts are its tasks' states.
    for (const [state, n] of Object.entries(expected)) expect(run.tasks.filter((t) => t.state.replace('-', '_') === state).length, state).toBe(n);
    const tasks = await pollUntil(
      'task gauges matching the run',
      async () => {
        const got = byLabel(await prom.query('sum by (state) (testudo_tasks)'), 'state');
        return sameCounts(got, expected) ? got : undefined;
      },
      30_000,
    );
    expect(tasks).toEqual(expected);

    // Exactly one leader, and it is the one instance exporting the replicated gauges.
    expect((await prom.query('sum(testudo_raft_is_leader)'))[0]?.value).toBe(1);
    const leaders = await prom.query('testudo_raft_is_leader == 1');
    expect(leaders).toHaveLength(1);
    const exporters = await prom.query('count by (instance) (testudo_tasks)');
    expect(exporters.map((s) => s.metric['instance'])).toEqual([leaders[0]!.metric['instance']]);
    expect(byLabel(await prom.query('sum by (state) (testudo_runs)'), 'state')).toMatchObject({ failed: 1, running: 0 });
    expect(byLabel(await prom.query('sum by (state) (testudo_workers)'), 'state')).toMatchObject({ active: 1 });
    expect((await prom.query('sum(testudo_worker_sessions)'))[0]?.value).toBe(1);
    expect(await prom.query('testudo_breaker_state')).toHaveLength(1);

    // The worker's counters count every attempt of the run (all ran on w1) and its one session.
    const attempts = run.tasks.reduce((n, t) => n + t.attempts.length, 0);
    const finished = await pollUntil(
      'the worker counter scraped after the run',
      async () => {
        const v = (await prom.query('testudo_worker_attempts_finished_total'))[0]?.value;
        return v === attempts ? v : undefined;
      },
      30_000,
    );
    expect(finished).toBe(attempts);
    expect((await prom.query('testudo_worker_sessions_opened_total'))[0]?.value).toBeGreaterThanOrEqual(1);
    // Every attempt that ran its command is timed, in five phases; the mean per attempt is a PromQL division.
    const timed = (await prom.query('testudo_worker_attempts_timed_total'))[0]?.value ?? 0;
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThanOrEqual(attempts);
    expect(byLabel(await prom.query('testudo_worker_attempt_phase_seconds_total'), 'phase')).toHaveProperty('command');
    expect(await prom.query('testudo_worker_attempt_phase_seconds_total')).toHaveLength(5);
    expect((await prom.query('sum(testudo_worker_attempt_phase_seconds_total) / sum(testudo_worker_attempts_timed_total)'))[0]?.value).toBeGreaterThan(0);
    // The outbox's deferred sync is visible: its syncs so far (any number), and results left unsynced (0 once all are confirmed or synced).
    expect((await prom.query('testudo_worker_outbox_syncs_total'))[0]?.value).toBeGreaterThanOrEqual(0);
    await pollUntil('no outbox result left unsynced', async () => ((await prom.query('testudo_worker_outbox_unsynced_results'))[0]?.value === 0 ? true : undefined), 30_000);

    // Every target says which build it runs.
    const builds = await prom.query('testudo_build_info');
    expect(builds.map((s) => s.metric['instance']).sort()).toEqual([...coordinators, worker].sort());
    for (const b of builds) {
      expect(b.value).toBe(1);
      expect(b.metric['version']).toBe(testudoVersion);
      expect(b.metric['commit']).toMatch(/\S/);
    }
  });
});

/** 3 passing tasks and 1 failing one (its tests pass, its command exits 1), on the cluster's worker. */
async function runSmallRun(client: TestudoClient): Promise<RunView> {
  const submission = sleepRun('metrics', 4, 0.1);
  const tasks = submission.tasks.map((t, i) => (i === 3 ? { ...t, command: `${t.command}; exit 1` } : t));
  const { runId } = await client.submitRun({ ...submission, tasks });
  const run = await finishRun(client, runId, 60_000);
  expect(run.state).toBe('failed');
  return run;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(a).sort();
  return keys.join() === Object.keys(b).sort().join() && keys.every((k) => a[k] === b[k]);
}
