import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { deployDir, parseYaml } from './files.js';
import { metricNames } from './promql-names.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
}

const dashboard = JSON.parse(readFileSync(join(deployDir, 'grafana', 'testudo.json'), 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

describe('deploy/grafana', () => {
  it('the dashboard parses, with unique panel ids and a Prometheus datasource variable', () => {
    expect(dashboard.uid).toBe('testudo');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    for (const p of queryPanels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
  });

  it('every query is valid PromQL that selects at least one metric', () => {
    for (const p of queryPanels) for (const t of p.targets ?? []) expect(metricNames(t.expr).length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
  });

  it('shows leader and term, commit latency, fsync, peer round trips, the queue, breakers, outcomes and chaos faults', () => {
    const titles = queryPanels.map((p) => p.title).join('\n');
    for (const topic of [/^Leader$/m, /^Term$/m, /Commit latency/, /fsync/, /Peer round trip/, /^Queue$/m, /breaker state/, /Tasks by state/, /Faults/]) expect(titles).toMatch(topic);
  });

  it('the provisioning points Grafana at the dashboard folder the compose file mounts, and at its Prometheus', () => {
    const provider = parseYaml(readFileSync(join(deployDir, 'grafana', 'provisioning', 'dashboards', 'testudo.yml'), 'utf8'), 'dashboards')[0] as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0]!.options.path).toBe('/etc/grafana/dashboards');
    const datasources = parseYaml(readFileSync(join(deployDir, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'), 'datasources')[0] as {
      datasources: { type: string; url: string }[];
    };
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });
});
