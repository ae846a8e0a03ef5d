import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { commitTracePhases } from '../../src/bench/commit-trace.js';
import { runRaftBench } from '../../src/bench/raft.js';

/**
 * `bench raft` on a real local 3-node cluster, briefly: the CPU, event-loop
 * and GC figures it adds to the load result are present and within the
 * bounds that must hold whatever the machine's load (no timings).
 */
describe('bench raft', () => {
  it('reports CPU per write over every process, and each coordinator’s lag and GC', async () => {
    const ops = 300;
    const result = await runRaftBench({ clients: 8, ops, valueBytes: 256, warmupOps: 50 }, () => undefined);
    expect(result).toMatchObject({ cluster: 'local-3', errors: 0, ops });
    const ids = ['n1', 'n2', 'n3'];
    expect(Object.keys(result.cpuSecondsByProcess).sort()).toEqual(['client', ...ids]);
    // No process can use more CPU than every core for the window (the parent's window exceeds the load's by its readings).
    const cpuSecondsMax = (result.elapsedMs / 1000 + 5) * availableParallelism();
    for (const seconds of Object.values(result.cpuSecondsByProcess)) {
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThanOrEqual(cpuSecondsMax);
    }
    // The leader synced and replicated every write: it used some CPU.
    expect(Math.max(...ids.map((id) => result.cpuSecondsByProcess[id]!))).toBeGreaterThan(0);
    const totalSeconds = Object.values(result.cpuSecondsByProcess).reduce((a, b) => a + b, 0);
    expect(result.cpuUsPerWrite).not.toBeNull();
    expect(result.cpuUsPerWrite!).toBeCloseTo((totalSeconds * 1e6) / ops, -1);

    expect(Object.keys(result.eventLoop).sort()).toEqual(ids);
    for (const loop of Object.values(result.eventLoop)) {
      expect(loop.lagMaxMs).toBeGreaterThanOrEqual(0);
      // Every probe in the window is covered by a max reading; p99 is interpolated in a bucket at most 1.5 times wide.
      expect(loop.lagP99Ms).toBeLessThanOrEqual(Math.max(1.5 * loop.lagMaxMs, 0.5) + 0.001);
      expect(loop.lagP99Ms).toBeGreaterThanOrEqual(0);
      expect(loop.gcPauseMs).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(loop.gcCount) && loop.gcCount >= 0).toBe(true);
      if (loop.gcCount === 0) expect(loop.gcPauseMs).toBe(0);
      // Every member synced the entries it appended.
      expect(loop.syncedWrites).toBeGreaterThanOrEqual(1);
      expect(loop.entriesPerSyncedWrite).toBeGreaterThan(0);
      expect(loop.cpuSecondsByThread['main']).toBeGreaterThanOrEqual(0);
    }
    for (const id of ids) {
      // Live threads' time cannot exceed the process's (which also keeps exited threads'); a tick of slack per thread for rounding.
      const threads = Object.values(result.eventLoop[id]!.cpuSecondsByThread);
      expect(threads.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(result.cpuSecondsByProcess[id]! + 0.01 * threads.length + 0.01);
    }
  });

  it('times linearizable reads of the keys the warm-up wrote, on a cluster in lease mode', async () => {
    const ops = 300;
    const result = await runRaftBench({ clients: 8, ops, valueBytes: 64, warmupOps: 50, op: 'get', readMode: 'lease' }, () => undefined);
    expect(result).toMatchObject({ cluster: 'local-3', op: 'get', readMode: 'lease', errors: 0, ops });
  });

  it('cuts each of one client\'s timed writes into phases from the traces of the coordinators and the load process (--trace-dir)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-bench-raft-trace-'));
    try {
      const ops = 100;
      const result = await runRaftBench({ clients: 1, ops, valueBytes: 64, warmupOps: 20, traceDir: dir }, () => undefined);
      // Three coordinators and the load process each wrote a trace.
      expect((await readdir(dir)).filter((name) => /^trace-\d+\.log$/.test(name))).toHaveLength(4);
      const trace = result.commitTrace!;
      expect(trace, JSON.stringify(result)).toBeDefined();
      expect(trace).toMatchObject({ matched: ops, unmatched: 0 });
      for (const phase of commitTracePhases) expect(trace.phasesMs[phase].p50, phase).toBeGreaterThanOrEqual(0);
      expect(trace.phasesMs.followerSave.p50).toBeGreaterThan(0);
      // Every phase lies inside its write's call, so none lasts longer than the longest call.
      for (const phase of commitTracePhases) expect(trace.phasesMs[phase].max, phase).toBeLessThanOrEqual(trace.phasesMs.total.max);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a write trace of several clients before starting anything', async () => {
    await expect(runRaftBench({ clients: 2, ops: 10, valueBytes: 64, warmupOps: 0, traceDir: join(tmpdir(), 'testudo-never-made') }, () => undefined)).rejects.toThrow(/one client/);
  });
});
