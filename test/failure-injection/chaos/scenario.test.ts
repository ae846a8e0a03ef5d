/**
 * Chaos scenarios end to end on real processes: the short mixed CI scenario
 * passes every safety check, and the same checks catch a planted bug (the
 * state machine counting a late result).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { runChaos, type ChaosRunOptions } from '../../../src/failure-injection/runner.js';
import { loadScenario, parseScenario } from '../../../src/failure-injection/scenario/index.js';
import type { ChaosRunResult } from '../../../src/failure-injection/results.js';

async function run(options: Omit<ChaosRunOptions, 'dataDir'>): Promise<ChaosRunResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'testudo-chaos-test-'));
  try {
    return await runChaos({ ...options, dataDir });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const plantedScenario = `
name: planted-late-result
cluster: { coordinators: 3, workers: 2, slots: 2 }
workload:
  synthetic:
    tasks: 20
    duration: { distribution: uniform, min: 1500ms, max: 2500ms }
faults:
  events:
    # Past the worker TTL (3 s in chaos runs): its attempts are declared lost,
    # and the results it sends once continued arrive late.
    - { at: 4s, type: worker-hang, scope: worker, intensity: moderate, params: { durationMs: 7000 } }
checks: { readyWithin: 20s, timeout: 100s }
`;

// Three runs, two at a time (maxConcurrency in vitest.config.ts): ci-short beside the planted run, then its control.
describe.concurrent('chaos scenarios', () => {
  it('ci-short: every fault injected and healed, and every check green', async ({ expect }) => {
    const scenario = await loadScenario(join(import.meta.dirname, '../../../chaos/scenarios/ci-short.yaml'));
    const result = await run({ scenario, seed: 42 });
    expect(result.checks).toMatchObject({ lostTasks: 0, duplicateResults: 0, divergentReplicas: 0, splitBrainTerms: 0, ready: true });
    expect(result.checks.findings).toEqual([]);
    expect(result.faults.map((f) => f.type)).toEqual(['kill', 'pause', 'latency', 'worker-crash', 'worker-flaky', 'isolate']);
    expect(result.faults.every((f) => f.targets.length > 0 && f.healedAtMs > f.injectedAtMs)).toBe(true);
    // The leader kill is noticed and a new leader elected.
    expect(result.faults[0]?.newLeaderMs).not.toBeNull();
    expect(result.passed + result.failedInfra).toBe(result.tasks);
    expect(result.throughput.length).toBeGreaterThan(0);
  }, 170_000);

  describe('a worker hang past its TTL, with and without the planted bug', () => {
    it('catches a planted bug: a late result counted by the state machine', async ({ expect }) => {
      const scenario = parseScenario(plantedScenario, 'planted.yaml');
      const result = await run({ scenario, seed: 7, coordinatorEnv: { TESTUDO_CHAOS_PLANTED_BUG: 'count-late-result' } });
      // On a miss, say what the run saw: whether the hang outlasted the TTL and what each task's attempts became.
      expect(result.checks.duplicateResults, JSON.stringify({ checks: result.checks, faults: result.faults, infraRetries: result.infraRetries })).toBeGreaterThan(0);
      expect(result.checks.findings.join('\n')).toMatch(/late result was counted on .* \(lost\)/);
    }, 170_000);

    it('the same scenario without the planted bug passes: late results are recorded, never counted', async ({ expect }) => {
      const scenario = parseScenario(plantedScenario, 'planted.yaml');
      const result = await run({ scenario, seed: 7 });
      expect(result.checks).toMatchObject({ lostTasks: 0, duplicateResults: 0, divergentReplicas: 0, splitBrainTerms: 0, ready: true });
    }, 170_000);
  });
});
