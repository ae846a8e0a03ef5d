import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { clientFor, startCluster, waitFor } from '../integration/harness.js';
import { finishRun, sleepRun, startWorkers } from '../integration/runs-harness.js';
import { deployDir, parseYaml } from './files.js';
import { exposedNames, metricNames, PromqlSyntaxError, unknownMetrics } from './promql-names.js';

/**
 * The queries of deploy/ (alert rules, the Grafana dashboard, the workers'
 * autoscaler) against what a real local cluster exports: three coordinators
 * and a worker, after a small run, scraped on /metrics. The known names come
 * from the live scrape, never from a list kept by hand.
 */

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
}

function deployQueries(): { where: string; expr: string }[] {
  const queries: { where: string; expr: string }[] = [];
  const rules = parseYaml(readFileSync(join(deployDir, 'prometheus', 'alerts.yml'), 'utf8'), 'alerts.yml')[0] as { groups: { rules: { alert: string; expr: string }[] }[] };
  for (const g of rules.groups) for (const r of g.rules) queries.push({ where: `alerts.yml ${r.alert}`, expr: r.expr });
  const dashboard = JSON.parse(readFileSync(join(deployDir, 'grafana', 'testudo.json'), 'utf8')) as Dashboard;
  for (const p of dashboard.panels) for (const t of p.targets ?? []) queries.push({ where: `testudo.json "${p.title}"`, expr: t.expr });
  const scaled = parseYaml(readFileSync(join(deployDir, 'k8s', 'base', 'worker-autoscaler.yaml'), 'utf8'), 'worker-autoscaler.yaml')[0] as {
    spec: { triggers: { metadata: { query: string } }[] };
  };
  for (const t of scaled.spec.triggers) queries.push({ where: 'worker-autoscaler.yaml', expr: t.metadata.query });
  return queries;
}

async function scrape(address: string): Promise<string> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(response.status).toBe(200);
  return response.text();
}

/** Runs deploy/healthcheck.mjs against a port on 127.0.0.1; resolves with its exit code. */
function healthcheck(path: string, port: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(deployDir, 'healthcheck.mjs'), path], { env: { PATH: process.env['PATH'] ?? '', HEALTHCHECK_PORT: port }, stdio: 'ignore' });
    child.on('exit', (code) => resolve(code));
  });
}

describe('deploy/ queries against a live local cluster', () => {
  let cluster: LocalCluster;
  let client: TestudoClient;
  let cleanup: () => Promise<void>;
  const known = new Set<string>();
  const exposedBy = new Map<string, Set<string>>();

  beforeAll(async () => {
    ({ cluster, cleanup } = await startCluster());
    client = clientFor(cluster);
    await startWorkers(cluster, client, 1, 2);
    const { runId } = await client.submitRun(sleepRun('deploy-metrics', 2, 0));
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    const targets = [...[...cluster.members.values()].map((m) => m.httpAddress!), cluster.worker('w1').httpAddress!];
    // The leader alone may export the cluster-wide gauges: wait until some member shows them.
    await waitFor('the run and task gauges on a member', async () => {
      const texts = await Promise.all(targets.map(scrape));
      return texts.some((t) => t.includes('testudo_tasks{'));
    });
    for (const target of targets) {
      const names = exposedNames(await scrape(target));
      exposedBy.set(target, names);
      for (const n of names) known.add(n);
    }
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await cleanup?.();
  });

  it('scrapes Testudo metrics from every coordinator and the worker', () => {
    for (const [target, names] of exposedBy) expect([...names].some((n) => n.startsWith('testudo_')), target).toBe(true);
    expect(known).toContain('testudo_raft_has_leader');
    expect(known).toContain('testudo_worker_connected');
  });

  it('every metric the alert rules, the dashboard and the autoscaler query is exported', () => {
    const queries = deployQueries();
    expect(queries.length).toBeGreaterThan(50);
    expect(unknownMetrics(queries, known)).toEqual([]);
  });

  it('the name check reports a planted unknown metric and a query that does not parse', () => {
    const planted = [{ where: 'planted', expr: 'sum(rate(testudo_no_such_metric_total[$__rate_interval])) / sum(testudo_raft_term)' }];
    expect(unknownMetrics(planted, known)).toEqual(['planted: testudo_no_such_metric_total']);
    expect(metricNames('sum by (state) (testudo_tasks{state="queued"}) > on() group_left up')).toEqual(['testudo_tasks', 'up']);
    expect(metricNames('{__name__="testudo_raft_term", node="n1"} + on(node) testudo_raft_is_leader')).toEqual(['testudo_raft_term', 'testudo_raft_is_leader']);
    expect(() => metricNames('sum(testudo_tasks')).toThrow(PromqlSyntaxError);
  });

  it("the image's health check passes /livez and /readyz on a live coordinator", async () => {
    for (const m of cluster.members.values()) {
      const port = m.httpAddress!.split(':')[1]!;
      expect(await healthcheck('/livez', port), `${m.id} /livez`).toBe(0);
      expect(await healthcheck('/readyz', port), `${m.id} /readyz`).toBe(0);
    }
    const workerPort = cluster.worker('w1').httpAddress!.split(':')[1]!;
    expect(await healthcheck('/livez', workerPort)).toBe(0);
  });
});
