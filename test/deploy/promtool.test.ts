import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { deployDir, parseYaml } from './files.js';

const prometheusDir = join(deployDir, 'prometheus');

/** Runs promtool; a missing promtool fails the test that needs it, saying how to install it. */
function promtool(args: readonly string[]): { code: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8', cwd: prometheusDir, timeout: 60_000 });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('promtool is not installed: `apt-get install -y --no-install-recommends prometheus` (Debian) provides it; .ci/run installs it');
  }
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

interface RulesFile {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface RulesTest {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const rules = parseYaml(readFileSync(join(prometheusDir, 'alerts.yml'), 'utf8'), 'alerts.yml')[0] as RulesFile;
const ruleTests = parseYaml(readFileSync(join(prometheusDir, 'alerts.test.yml'), 'utf8'), 'alerts.test.yml')[0] as RulesTest;
const scratch = mkdtempSync(join(tmpdir(), 'testudo-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('deploy/prometheus with promtool', () => {
  it.each(['prometheus.yml', 'prometheus-kubernetes.yml'])('%s passes promtool check config', (file) => {
    // --syntax-only: the certificate and token files it names exist only
    // where Prometheus runs (a container, a pod), not in the repository.
    const { code, output } = promtool(['check', 'config', '--syntax-only', file]);
    expect(output).toMatch(/SUCCESS/);
    expect(code, output).toBe(0);
  });

  it('alerts.yml passes promtool check rules', () => {
    const { code, output } = promtool(['check', 'rules', 'alerts.yml']);
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('the rule unit tests pass (promtool test rules)', () => {
    const { code, output } = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS/);
  });

  it('every alert is tested both firing and not firing', () => {
    const alerts = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => a !== undefined));
    expect(alerts.size).toBeGreaterThanOrEqual(14);
    const firing = new Set<string>();
    const quiet = new Set<string>();
    for (const t of ruleTests.tests) {
      for (const a of t.alert_rule_test ?? []) ((a.exp_alerts ?? []).length > 0 ? firing : quiet).add(a.alertname);
    }
    expect([...alerts].filter((a) => !firing.has(a)), 'never tested firing').toEqual([]);
    expect([...alerts].filter((a) => !quiet.has(a)), 'never tested quiet').toEqual([]);
  });

  it('promtool test rules fails on a wrong expectation, and check rules on a broken rule (planted)', () => {
    copyFileSync(join(prometheusDir, 'alerts.yml'), join(scratch, 'alerts.yml'));
    const tests = readFileSync(join(prometheusDir, 'alerts.test.yml'), 'utf8');
    // Expect TestudoNoLeader quiet where it fires.
    const wrong = tests.replace(/- eval_time: 8m\n(\s+)alertname: TestudoNoLeader\n\s+exp_alerts:\n(?:\s+- exp_labels:.*\n)(?:\s+exp_annotations:\n(?:\s+(?:summary|description):.*\n)+)/, '- eval_time: 8m\n$1alertname: TestudoNoLeader\n$1exp_alerts: []\n');
    expect(wrong).not.toBe(tests);
    writeFileSync(join(scratch, 'alerts.test.yml'), wrong);
    const failed = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { encoding: 'utf8', cwd: scratch, timeout: 60_000 });
    expect(failed.status).not.toBe(0);
    expect(`${failed.stdout}${failed.stderr}`).toMatch(/TestudoNoLeader/);

    writeFileSync(join(scratch, 'broken.yml'), 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(testudo_raft_term\n');
    const broken = spawnSync('promtool', ['check', 'rules', 'broken.yml'], { encoding: 'utf8', cwd: scratch, timeout: 60_000 });
    expect(broken.status).not.toBe(0);
  });
});
