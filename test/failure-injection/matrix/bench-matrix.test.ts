/**
 * `testudo chaos bench` end to end, as a user runs it: the matrix with
 * --quick on two tiny scenarios (real coordinators, workers, fault proxies
 * and LevelDB), the last stdout line in the summary's exact shape, progress
 * on stderr, and the files it writes. Bad --seeds values are usage errors.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuiltCli, type CliOutcome } from '../../cli/cli-process.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const scenarios = `${join(fixtures, 'tiny-control.yaml')},${join(fixtures, 'tiny-flaky.yaml')}`;

describe('testudo chaos bench (the matrix)', () => {
  let dir = '';
  let bench: CliOutcome;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testudo-matrix-'));
    // --jobs 2: each seed's two passes side by side (and the test takes half as long).
    bench = await runBuiltCli(['chaos', 'bench', '--quick', '--seeds', '7,8', '--jobs', '2', '--scenario', scenarios, '--out', dir]);
  }, 130_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs each scenario once per mode and prints the summary as the last stdout line', () => {
    const stdout = bench.stdout.toString();
    const stderr = bench.stderr.toString();
    expect(bench.code, stderr.slice(-3000)).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown> & { scenarios: Array<Record<string, { mean: unknown; ci95: unknown[] }>> };
    expect(Object.keys(summary)).toEqual(['scenarios', 'lostTasks', 'duplicateResults', 'divergentReplicas', 'splitBrainTerms']);
    expect(summary).toMatchObject({ lostTasks: 0, duplicateResults: 0, divergentReplicas: 0, splitBrainTerms: 0 });
    expect(summary.scenarios.map((s) => s['name'])).toEqual(['tiny-control', 'tiny-flaky']);
    for (const s of summary.scenarios) {
      expect(Object.keys(s)).toEqual(['name', 'wastedAttemptsRatio', 'makespanRatio', 'recoveryTimeRatio', 'successRateDelta', 'quarantinedAfterHeal']);
      // Counted from the cluster's worker list after the workload: a number in each mode.
      expect(s['quarantinedAfterHeal']).toEqual({ on: expect.any(Number), off: expect.any(Number) });
      // One seed: a mean, but no interval to call anything significant.
      expect(s['makespanRatio']!.mean).toBeTypeOf('number');
      expect(s['makespanRatio']!.ci95).toEqual([null, null]);
    }
    // The control has no fault, so no recovery time to compare.
    expect(summary.scenarios[0]!['recoveryTimeRatio']!.mean).toBeNull();
    // Without adaptive recovery no breaker opens; on the healthy control none does either.
    expect(summary.scenarios[0]!['quarantinedAfterHeal']).toEqual({ on: 0, off: 0 });
    expect(summary.scenarios[1]!['quarantinedAfterHeal']).toMatchObject({ off: 0 });
    expect(stdout).toContain('### tiny-flaky (seeds 7)');
    expect(stderr).toContain('pass 4/4: tiny-flaky seed 7');
    expect(stderr).toMatch(/4 passes in [\d.]+ min \(--jobs 2\)/);
    expect(stdout).not.toContain('pass 1/4');
  });

  it('writes matrix.json with every pass’s figures, and each pass’s result', async () => {
    const matrix = JSON.parse(await readFile(join(dir, 'bench-matrix', 'matrix.json'), 'utf8')) as {
      seeds: number[];
      passes: Array<{ scenario: string; seed: number; mode: string; wastedAttempts: number; resilienceScore: number; cpuSeconds: number; successRate: number }>;
    };
    expect(matrix.seeds).toEqual([7]);
    expect(matrix.passes.map((p) => `${p.scenario}/${p.mode}`)).toEqual(['tiny-control/breaker', 'tiny-control/no-breaker', 'tiny-flaky/breaker', 'tiny-flaky/no-breaker']);
    for (const p of matrix.passes) {
      expect(p.cpuSeconds).toBeGreaterThan(0);
      expect(p.resilienceScore).toBeGreaterThan(0);
      expect(p.resilienceScore).toBeLessThanOrEqual(1);
    }
    // w1 failed every spawn for 2 s from the start: attempts were wasted on it in at least one mode.
    expect(Math.max(...matrix.passes.filter((p) => p.scenario === 'tiny-flaky').map((p) => p.wastedAttempts))).toBeGreaterThan(0);
    expect(matrix.passes.filter((p) => p.scenario === 'tiny-control').map((p) => p.wastedAttempts)).toEqual([0, 0]);
    const result = JSON.parse(await readFile(join(dir, 'bench-matrix', 'passes', 'tiny-flaky-seed7-no-breaker.json'), 'utf8')) as { mode: string; faults: unknown[] };
    expect(result.mode).toBe('no-breaker');
    expect(result.faults).toHaveLength(1);
  });

  it.each([
    [['--seeds', '5..1'], 'runs backwards'],
    [['--seeds', '1,1'], 'given twice'],
    [['--seeds', '2', '--seed', '3'], 'not both'],
    [['--jobs', '3'], '--jobs must be an integer from 1 to 2'],
  ])('refuses %j with exit 2', async (args, says) => {
    const out = await runBuiltCli(['chaos', 'bench', '--scenario', scenarios, ...args]);
    expect(out.code).toBe(2);
    expect(out.stderr.toString()).toContain(says);
  });
});
