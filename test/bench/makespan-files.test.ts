import { describe, expect, it } from 'vitest';

import { fileWorkload, simulateFiles } from '../../src/bench/makespan-files.js';
import { lowerBound, queueSchedule, wrongHistory } from '../../src/bench/workload.js';
import { runCli } from '../cli/cli-process.js';

describe('bench makespan --files: the pure parts', () => {
  it('makes a quarter of the history wrong by exactly ±error, the rest exact, reproducibly', () => {
    const values = Array.from({ length: 40 }, (_, i) => i + 1);
    const h = wrongHistory(values, 7, 0.5);
    expect(wrongHistory(values, 7, 0.5)).toEqual(h);
    const ratios = h.map((v, i) => v / values[i]!);
    expect(ratios.filter((r) => r !== 1)).toHaveLength(10);
    expect(ratios.every((r) => r === 1 || r === 0.5 || r === 1.5)).toBe(true);
    expect(() => wrongHistory(values, 7, 1)).toThrow(RangeError);
  });

  it('names each file with its true and its historical duration', () => {
    const w = fileWorkload(8, 3, 0.5, 0.5);
    expect(w.names).toHaveLength(8);
    w.names.forEach((name, i) => expect(name).toBe(`f${String(i + 1).padStart(4, '0')}_${w.durations[i]!.toFixed(3)}_${w.history[i]!.toFixed(3)}`));
  });

  it('schedules every file once; with an exact history and equal files the queue meets the lower bound', () => {
    const durations = Array.from({ length: 64 }, () => 1);
    const q = queueSchedule(durations, durations, 4);
    expect(q.makespan).toBeCloseTo(lowerBound(durations, 4), 9);
    expect(q.batches).toBeGreaterThan(4);
    expect(q.batches).toBeLessThanOrEqual(64);
  });

  it('beats static timing shards when a quarter of the history is wrong by ±50% (zero overhead)', () => {
    for (const seed of [1, 2, 3]) {
      const w = fileWorkload(200, seed, 0.5, 0.5);
      const sim = simulateFiles(w.durations, w.history, 8);
      expect(sim.queue).toBeLessThan(sim.timingStatic);
      expect(sim.queue).toBeGreaterThanOrEqual(sim.lowerBound);
    }
  });
});

describe('testudo bench makespan --files (real process)', () => {
  it('prints one JSON document with --simulate-only, and refuses a bad --history-error with exit 2', async () => {
    const ok = await runCli(['bench', 'makespan', '--files', '40', '--slots', '4', '--simulate-only']);
    expect(ok.code, ok.stderr.toString('utf8')).toBe(0);
    const result = JSON.parse(ok.stdout.toString('utf8')) as { case: string; files: number; real: unknown; simulated: { timingStatic: number; queue: number } };
    expect(result).toMatchObject({ case: 'files', files: 40, real: null });
    expect(result.simulated.queue).toBeGreaterThanOrEqual(1);
    const bad = await runCli(['bench', 'makespan', '--files', '40', '--history-error', '1.5', '--simulate-only']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.toString('utf8')).toContain('--history-error');
    expect(bad.stderr.toString('utf8')).toContain('"1.5"');
  }, 60_000);
});
