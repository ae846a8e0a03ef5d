import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  TASK_DURATION_MS_MAX,
  parseScenario,
  syntheticRunSpec,
  syntheticTaskDurations,
  syntheticTestName,
  syntheticTestProgramPath,
  type SyntheticWorkload,
} from '../../../src/failure-injection/scenario/index.js';
import type { TaskTemplate } from '../../../src/model/index.js';
import { parseJUnitXml } from '../../../src/report/junit-parse.js';
import { expandSpec, parseSpecText } from '../../../src/spec/index.js';
import { runAttempt } from '../../../src/worker/executor.js';

const exec = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
}

const LOGNORMAL: SyntheticWorkload = { tasks: 2000, duration: { distribution: 'lognormal', medianMs: 300, p95Ms: 1500 } };

describe('syntheticTaskDurations', () => {
  it('lognormal: the requested median and p95, deterministic for a seed', () => {
    for (const seed of [1, 2, 3]) {
      const durations = syntheticTaskDurations(LOGNORMAL, seed);
      expect(durations).toHaveLength(2000);
      expect(syntheticTaskDurations(LOGNORMAL, seed)).toEqual(durations);
      const sorted = [...durations].sort((a, b) => a - b);
      expect(quantile(sorted, 0.5)).toBeGreaterThan(300 * 0.85);
      expect(quantile(sorted, 0.5)).toBeLessThan(300 * 1.15);
      expect(quantile(sorted, 0.95)).toBeGreaterThan(1500 * 0.75);
      expect(quantile(sorted, 0.95)).toBeLessThan(1500 * 1.25);
      expect(durations.every((d) => Number.isInteger(d) && d >= 1 && d <= TASK_DURATION_MS_MAX)).toBe(true);
    }
    expect(syntheticTaskDurations(LOGNORMAL, 1)).not.toEqual(syntheticTaskDurations(LOGNORMAL, 2));
  });

  it('clamps to [1 ms, 10 min]', () => {
    const wide = syntheticTaskDurations({ tasks: 2000, duration: { distribution: 'lognormal', medianMs: 2, p95Ms: 600_000 } }, 5);
    expect(Math.min(...wide)).toBe(1);
    expect(Math.max(...wide)).toBe(TASK_DURATION_MS_MAX);
  });

  it('fixed and uniform', () => {
    expect(syntheticTaskDurations({ tasks: 3, duration: { distribution: 'fixed', valueMs: 200 } }, 9)).toEqual([200, 200, 200]);
    const uniform = syntheticTaskDurations({ tasks: 500, duration: { distribution: 'uniform', minMs: 100, maxMs: 800 } }, 9);
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...uniform)).toBeLessThanOrEqual(800);
    expect(Math.max(...uniform) - Math.min(...uniform)).toBeGreaterThan(600);
  });
});

describe('syntheticRunSpec', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testudo-synthetic-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function submit(synthetic: SyntheticWorkload, seed: number): Promise<{ tasks: readonly TaskTemplate[]; durationsMs: readonly number[] }> {
    const spec = syntheticRunSpec(synthetic, seed, { name: 'synthetic-test-run' });
    expect(parse(spec.text)).toEqual(spec.document);
    const parsed = parseSpecText(spec.text, { file: 'synthetic.yaml', sourceDir: dir, env: {} });
    expect(parsed.warnings).toEqual([]);
    const submission = await expandSpec(parsed);
    expect(submission.name).toBe('synthetic-test-run');
    return { tasks: submission.tasks, durationsMs: spec.durationsMs };
  }

  it('passes the spec parser: one suite per task, named after its test', async () => {
    const { tasks, durationsMs } = await submit({ ...LOGNORMAL, tasks: 120 }, 7);
    expect(tasks).toHaveLength(120);
    expect(tasks.map((t) => t.suite)).toEqual(durationsMs.map((_, i) => syntheticTestName(i)));
    expect(tasks[0]?.suite).toBe('synthetic-0001');
    expect(tasks.every((t) => t.shardCount === 1 && t.command.includes(syntheticTestProgramPath()))).toBe(true);
    expect(tasks[0]?.command).toContain(`--durations-ms ${durationsMs[0]} `);
  });

  it('beyond 1000 tasks, consecutive tasks share a suite as its shards', async () => {
    const { tasks } = await submit({ tasks: 2500, duration: { distribution: 'fixed', valueMs: 5 } }, 1);
    expect(tasks).toHaveLength(2500);
    expect(tasks[0]).toMatchObject({ suite: 'synthetic-0001-0003', shard: 1, shardCount: 3 });
    expect(tasks[2499]).toMatchObject({ suite: 'synthetic-2500', shard: 1, shardCount: 1 });
  });

  it('runs from any directory: exit 0 and a JUnit report the project parser reads, for each task', async () => {
    const { tasks, durationsMs } = await submit({ tasks: 2, duration: { distribution: 'uniform', minMs: 50, maxMs: 150 } }, 3);
    for (const [i, task] of tasks.entries()) {
      const junit = join(dir, `direct-${i}.xml`);
      const env = { ...process.env, TESTUDO_JUNIT: junit, TESTUDO_SHARD_INDEX: String(task.shard) };
      const { stdout } = await exec('/bin/sh', ['-c', task.command], { cwd: tmpdir(), env });
      expect(stdout).toContain(`${syntheticTestName(i)}: ${durationsMs[i]} ms asked`);
      const result = parseJUnitXml(await readFile(junit, 'utf8'), { file: junit });
      expect(result.counts).toEqual({ total: 1, passed: 1, failed: 0, error: 0, skipped: 0 });
      expect(result.tests[0]).toMatchObject({ classname: 'synthetic', name: syntheticTestName(i), status: 'passed' });
      expect(result.tests[0]?.timeSec).toBeGreaterThanOrEqual((durationsMs[i] ?? 0) / 1000 - 0.01);
    }
  });

  it("runs under the worker's executor: each attempt passes with its test", async () => {
    const { tasks } = await submit({ tasks: 2, duration: { distribution: 'fixed', valueMs: 100 } }, 4);
    for (const [i, template] of tasks.entries()) {
      const result = await runAttempt(
        { attemptId: `t${i}.a1`, taskId: `t${i}`, runId: 'r1', workerId: 'w1', attempt: 1, template, files: [], checkoutDir: ROOT },
        { workDir: join(dir, 'worker') },
      );
      expect(result.reason).toBe('');
      expect(result.outcome).toBe('passed');
      expect(result.exitCode).toBe(0);
      expect(result.tests.map((t) => t.name)).toEqual([syntheticTestName(i)]);
    }
  });

  it('deals the tasks into `suites` suites of consecutive shards', () => {
    const spec = syntheticRunSpec({ tasks: 7, suites: 2, duration: { distribution: 'fixed', valueMs: 5 } }, 1);
    expect(spec.document.suites.map((s) => [s.name, s.shards])).toEqual([
      ['synthetic-0001-0004', 4],
      ['synthetic-0005-0007', 3],
    ]);
    expect(() => parseScenario(stringify({ name: 'x', cluster: { coordinators: 3, workers: 1, slots: 1 }, workload: { synthetic: { tasks: 2, suites: 3, duration: { distribution: 'fixed', value: 1 } } }, checks: { timeout: '1m' } }), 'x.yaml')).toThrow(/3 suites for 2 tasks/);
  });

  it('a grouped shard runs its own test and duration', async () => {
    const spec = syntheticRunSpec({ tasks: 1500, duration: { distribution: 'uniform', minMs: 1, maxMs: 30 } }, 2);
    const suite = spec.document.suites[1];
    expect(suite?.name).toBe('synthetic-0003-0004');
    const junit = join(dir, 'grouped.xml');
    const env = { ...process.env, TESTUDO_JUNIT: junit, TESTUDO_SHARD_INDEX: '2' };
    const { stdout } = await exec('/bin/sh', ['-c', suite?.command ?? 'false'], { cwd: tmpdir(), env });
    expect(stdout).toContain(`synthetic-0004: ${spec.durationsMs[3]} ms asked`);
    expect(parseJUnitXml(await readFile(junit, 'utf8')).tests[0]?.name).toBe('synthetic-0004');
  });

  it('the program refuses bad arguments with exit code 2', async () => {
    const program = join(ROOT, 'chaos/workloads/synthetic-test.mjs');
    const run = exec(process.execPath, [program, '--first', '1', '--durations-ms', '10,20'], { env: { ...process.env, TESTUDO_JUNIT: join(dir, 'x.xml') } });
    await expect(run).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--shard is required') as unknown });
  });
});
