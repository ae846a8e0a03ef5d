/**
 * Each chaos check fails a real chaos run when its kind of failure happens:
 * a bug planted in the real coordinators (TESTUDO_CHAOS_PLANTED_BUG,
 * src/coordinator/planted-bugs.ts) or a workload that cannot meet the
 * steady-state hypothesis, on a tiny scenario, and only that check fires.
 * (Duplicate results: scenario.test.ts.) The same tiny scenario without a
 * bug passes every check.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { ChaosChecks, ChaosRunResult } from '../../../src/failure-injection/results.js';
import { runChaos, type ChaosRunOptions } from '../../../src/failure-injection/runner.js';
import { loadScenario, parseScenario } from '../../../src/failure-injection/scenario/index.js';

async function run(options: Omit<ChaosRunOptions, 'dataDir'>): Promise<ChaosRunResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'testudo-planted-'));
  try {
    return await runChaos({ ...options, dataDir });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Six short tasks on one worker, no faults: the run ends in a few seconds. */
const tiny = (name: string, timeout = '40s'): string => `
name: ${name}
cluster: { coordinators: 3, workers: 1, slots: 2 }
workload:
  synthetic: { tasks: 6, duration: { distribution: fixed, value: 200ms } }
checks: { readyWithin: 15s, timeout: ${timeout} }
`;

/**
 * Two tasks that end before the fault, then a graceful restart of the leader
 * (it hands over first): the other nodes see a new term with a new leader.
 */
const leaderChange = `
name: planted-split-brain
cluster: { coordinators: 3, workers: 1, slots: 2 }
workload:
  synthetic: { tasks: 2, duration: { distribution: fixed, value: 200ms } }
faults:
  events:
    - { at: 3s, type: restart, scope: leader, intensity: moderate, params: { durationMs: 1000 } }
checks: { readyWithin: 20s, timeout: 40s }
`;

const counts = (checks: ChaosChecks): Record<string, number> => ({
  lostTasks: checks.lostTasks,
  duplicateResults: checks.duplicateResults,
  divergentReplicas: checks.divergentReplicas,
  splitBrainTerms: checks.splitBrainTerms,
  steadyStateViolations: checks.steadyStateViolations,
});
const clean = { lostTasks: 0, duplicateResults: 0, divergentReplicas: 0, splitBrainTerms: 0, steadyStateViolations: 0 };

// Two runs at a time (maxConcurrency in vitest.config.ts): each cluster is mostly idle,
// and the drop-task run waits out its timeout.
describe.concurrent('each chaos check catches its planted failure', () => {
  it('without a planted bug the tiny scenario passes every check', async ({ expect }) => {
    const result = await run({ scenario: parseScenario(tiny('planted-none'), 'tiny.yaml'), seed: 1 });
    expect(counts(result.checks)).toEqual(clean);
    expect(result.checks.findings).toEqual([]);
    expect(result.checks.ready).toBe(true);
    expect(result.passed).toBe(6);
  }, 120_000);

  it('without a planted bug a leader handing over passes every check (the split-brain control)', async ({ expect }) => {
    const result = await run({ scenario: parseScenario(leaderChange, 'leader-change.yaml'), seed: 1 });
    expect(result.faults.map((f) => f.type)).toEqual(['restart']);
    expect(counts(result.checks)).toEqual(clean);
    expect(result.checks.findings).toEqual([]);
  }, 120_000);

  it('lost tasks: drop-task leaves the last task queued for ever', async ({ expect }) => {
    // The run cannot end: the runner waits out the scenario's timeout, so keep it short.
    const scenario = parseScenario(tiny('planted-drop-task', '15s'), 'tiny.yaml');
    const result = await run({ scenario, seed: 1, coordinatorEnv: { TESTUDO_CHAOS_PLANTED_BUG: 'drop-task' } });
    expect(counts(result.checks)).toEqual({ ...clean, lostTasks: 1 });
    expect(result.checks.findings).toEqual([expect.stringMatching(/^lost: \S+\.t6 is still queued$/)]);
    expect(result.passed).toBe(5);
  }, 120_000);

  it('divergent replicas: diverge:n2 makes n2 alone record a different finish time', async ({ expect }) => {
    const scenario = parseScenario(tiny('planted-diverge'), 'tiny.yaml');
    const result = await run({ scenario, seed: 1, coordinatorEnv: { TESTUDO_CHAOS_PLANTED_BUG: 'diverge:n2' } });
    expect(counts(result.checks)).toEqual({ ...clean, divergentReplicas: 1 });
    expect(result.checks.findings).toEqual([expect.stringMatching(/^divergent: n2: digest [0-9a-f]{12}… at applied index \d+, others [0-9a-f]{12}…$/)]);
    expect(result.passed).toBe(6);
  }, 120_000);

  it('split-brain terms: stale-leader-log names the old leader in the new term', async ({ expect }) => {
    const scenario = parseScenario(leaderChange, 'leader-change.yaml');
    const result = await run({ scenario, seed: 1, coordinatorEnv: { TESTUDO_CHAOS_PLANTED_BUG: 'stale-leader-log' } });
    expect(result.faults.map((f) => f.type)).toEqual(['restart']);
    expect(result.checks.splitBrainTerms).toBeGreaterThanOrEqual(1);
    expect(counts(result.checks)).toEqual({ ...clean, splitBrainTerms: result.checks.splitBrainTerms });
    for (const finding of result.checks.findings) expect(finding).toMatch(/^split-brain: term \d+ had leaders n\d and n\d$/);
  }, 120_000);

  it('steady state: a workload of which half fails breaks minSuccessRate 0.9', async ({ expect }) => {
    const scenario = await loadScenario(join(import.meta.dirname, 'fixtures', 'steady-state.yaml'));
    const result = await run({ scenario, seed: 1 });
    expect(counts(result.checks)).toEqual({ ...clean, steadyStateViolations: 1 });
    expect(result.checks.findings).toEqual(['steady-state: success rate 50.0% is below minSuccessRate 90.0%']);
    expect([result.passed, result.failed]).toEqual([2, 2]);
  }, 120_000);
});
