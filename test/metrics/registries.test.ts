import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { registerBuildInfo } from '../../src/common/build-info.js';
import { commitFrom, commitUnknown, testudoCommit, testudoVersion } from '../../src/common/version.js';
import { NodeMetrics } from '../../src/coordinator/metrics.js';
import { OrchestratorMetrics } from '../../src/coordinator/orchestrator-metrics.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import type { WorkerStats } from '../../src/worker/agent.js';
import { workerMetricsRegistry } from '../../src/worker/metrics.js';

/** Lines of `text` that are samples (not comments) of metric `name`. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

const leaderOnly = ['testudo_runs', 'testudo_tasks', 'testudo_workers', 'testudo_worker_sessions', 'testudo_breaker_state'];

describe('build info', () => {
  it('takes the commit from the variable, then the file, else unknown', () => {
    expect(commitFrom('abc123', 'def456\n')).toBe('abc123');
    expect(commitFrom(undefined, 'def456\nsecond line\n')).toBe('def456');
    expect(commitFrom('  ', ' 0123abcd \n')).toBe('0123abcd');
    expect(commitFrom(undefined, null)).toBe(commitUnknown);
    expect(commitFrom('', '')).toBe(commitUnknown);
    // Never arbitrary text in a label.
    expect(commitFrom('a"b} 1', null)).toBe(commitUnknown);
    expect(commitFrom('x'.repeat(65), null)).toBe(commitUnknown);
    expect(testudoCommit).toMatch(/^[A-Za-z0-9._+-]+$/);
  });

  it('is a gauge of 1 labelled with version and commit, on coordinators', async () => {
    const registry = new Registry();
    registerBuildInfo(registry, { version: '1.2.3', commit: 'abc' });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE testudo_build_info gauge');
    expect(samples(text, 'testudo_build_info')).toEqual(['testudo_build_info{version="1.2.3",commit="abc"} 1']);
    expect(() => registerBuildInfo(new Registry(), { version: '', commit: 'abc' })).toThrow(RangeError);

    const node = await new NodeMetrics({ nodeId: 'n1', defaultMetrics: false }).metricsText();
    expect(samples(node, 'testudo_build_info')).toEqual([`testudo_build_info{version="${testudoVersion}",commit="${testudoCommit}",node="n1"} 1`]);
  });
});

describe('leader-only orchestrator gauges', () => {
  it('are exported by the leader only, and dropped when it loses leadership', async () => {
    const node = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
    let leading = false;
    new OrchestratorMetrics(node.registry, { orchestrator: new Orchestrator(), isLeader: () => leading, sessionsConnected: () => 2 });

    let text = await node.metricsText();
    for (const name of leaderOnly) {
      expect(text, name).toContain(`# TYPE ${name} gauge`);
      expect(samples(text, name), name).toEqual([]);
    }

    leading = true;
    text = await node.metricsText();
    expect(samples(text, 'testudo_runs')).toHaveLength(4);
    expect(samples(text, 'testudo_tasks')).toContain('testudo_tasks{state="failed_infra",node="n1"} 0');
    expect(samples(text, 'testudo_workers')).toHaveLength(3);
    expect(samples(text, 'testudo_worker_sessions')).toEqual(['testudo_worker_sessions{node="n1"} 2']);
    expect(samples(text, 'testudo_breaker_state')).toEqual([]); // no workers registered

    leading = false;
    text = await node.metricsText();
    for (const name of leaderOnly) expect(samples(text, name), name).toEqual([]);
  });
});

describe('worker metrics', () => {
  const stats: WorkerStats = { connected: true, leaderId: 'n1', running: 1, outbox: 3, outboxUnsynced: 2, outboxSyncs: 5, finished: 7, sessions: 2 };

  it('exports counters with _total, gauges, build info and standard process metrics', async () => {
    let current = stats;
    const registry = workerMetricsRegistry(() => ({ stats: () => current }));
    let text = await registry.metrics();
    expect(text).toContain('# TYPE testudo_worker_attempts_finished_total counter');
    expect(text).toContain('# TYPE testudo_worker_sessions_opened_total counter');
    expect(samples(text, 'testudo_worker_attempts_finished_total')).toEqual(['testudo_worker_attempts_finished_total 7']);
    expect(samples(text, 'testudo_worker_sessions_opened_total')).toEqual(['testudo_worker_sessions_opened_total 2']);
    expect(samples(text, 'testudo_worker_connected')).toEqual(['testudo_worker_connected 1']);
    expect(samples(text, 'testudo_worker_attempts_running')).toEqual(['testudo_worker_attempts_running 1']);
    expect(samples(text, 'testudo_worker_outbox_results')).toEqual(['testudo_worker_outbox_results 3']);
    expect(samples(text, 'testudo_worker_outbox_unsynced_results')).toEqual(['testudo_worker_outbox_unsynced_results 2']);
    expect(text).toContain('# TYPE testudo_worker_outbox_syncs_total counter');
    expect(samples(text, 'testudo_worker_outbox_syncs_total')).toEqual(['testudo_worker_outbox_syncs_total 5']);
    expect(samples(text, 'testudo_build_info')).toHaveLength(1);
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).not.toContain('testudo_worker_process_');
    expect(text).not.toMatch(/^# TYPE testudo_worker_(attempts_finished|sessions_opened) /m);

    // No attempt timed yet: every phase reads 0.
    expect(samples(text, 'testudo_worker_attempts_timed_total')).toEqual(['testudo_worker_attempts_timed_total 0']);
    expect(samples(text, 'testudo_worker_attempt_phase_seconds_total')).toEqual(
      ['prepare', 'spawn', 'command', 'collect', 'report'].map((phase) => `testudo_worker_attempt_phase_seconds_total{phase="${phase}"} 0`),
    );

    // Each scrape shows the agent's running total.
    current = { ...stats, finished: 9, attemptPhases: { attempts: 4, seconds: { prepare: 0.25, spawn: 0.5, command: 8, collect: 0.125, report: 0.0625 } } };
    text = await registry.metrics();
    expect(samples(text, 'testudo_worker_attempts_finished_total')).toEqual(['testudo_worker_attempts_finished_total 9']);
    expect(text).toContain('# TYPE testudo_worker_attempt_phase_seconds_total counter');
    expect(samples(text, 'testudo_worker_attempts_timed_total')).toEqual(['testudo_worker_attempts_timed_total 4']);
    expect(samples(text, 'testudo_worker_attempt_phase_seconds_total')).toEqual([
      'testudo_worker_attempt_phase_seconds_total{phase="prepare"} 0.25',
      'testudo_worker_attempt_phase_seconds_total{phase="spawn"} 0.5',
      'testudo_worker_attempt_phase_seconds_total{phase="command"} 8',
      'testudo_worker_attempt_phase_seconds_total{phase="collect"} 0.125',
      'testudo_worker_attempt_phase_seconds_total{phase="report"} 0.0625',
    ]);
  });

  it('reads zero before the agent is up', async () => {
    const text = await workerMetricsRegistry(() => null).metrics();
    expect(samples(text, 'testudo_worker_attempts_finished_total')).toEqual(['testudo_worker_attempts_finished_total 0']);
    expect(samples(text, 'testudo_worker_connected')).toEqual(['testudo_worker_connected 0']);
  });
});
