import { describe, expect, it } from 'vitest';

import type { MakespanBenchResult } from '../../src/bench/makespan.js';
import { runCli } from '../cli/cli-process.js';

describe('testudo bench makespan (a small real run)', () => {
  it('runs every task once and says where the CPU went: the machine, the coordinators and the workers', async () => {
    const out = await runCli(['bench', 'makespan', '--tasks', '24', '--slots', '4', '--workers', '2', '--scale', '0.1', '--seed', '3']);
    expect(out.code, out.stderr.toString('utf8')).toBe(0);
    const result = JSON.parse(out.stdout.toString('utf8')) as MakespanBenchResult;
    expect(result).toMatchObject({ tasks: 24, slots: 4, workers: 2, lostTasks: 0 });
    expect(result.ratios.dynamic).toBeGreaterThanOrEqual(1);
    const cpu = result.cpuMsPerTask!;
    for (const kind of ['coordinators', 'workers'] as const) expect(cpu[kind], kind).toBeGreaterThan(0);
    // The machine's figure holds the cluster's processes and the tasks' own (readings 10 ms apart in resolution).
    expect(cpu.machine).toBeGreaterThanOrEqual(0.9 * (cpu.coordinators + cpu.workers));
    expect(result.cpuBusyShare).toBeGreaterThan(0);
    expect(result.cpuBusyShare).toBeLessThanOrEqual(1);
    // A result and an assignment for each task, some sharing an entry: more than none, at most a few per task.
    expect(result.raftEntriesPerTask).toBeGreaterThan(0);
    expect(result.raftEntriesPerTask).toBeLessThan(4);
    // Every task's one attempt ran its command and was timed on its worker, in every phase; no command ends before its sleep.
    const phases = result.attemptPhaseMeanMs!;
    expect(phases.attempts).toBe(24);
    for (const phase of ['prepare', 'spawn', 'command', 'collect', 'report'] as const) expect(phases[phase], phase).toBeGreaterThan(0);
    expect(phases.commandBeyondSleep).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
