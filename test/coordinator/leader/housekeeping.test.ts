import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { pruneIntervalMs, sessionSettingsDefault, type SessionSettings } from '../../../src/coordinator/leader/index.js';
import { Housekeeping } from '../../../src/coordinator/leader/housekeeping.js';
import { SessionTable } from '../../../src/coordinator/leader/session-table.js';
import { Driver, failed, infra, noRequirements, registration, result, submission, template } from '../orchestrator-fixtures.js';
import { FakeCall, FakeNode, fakeHost, settle, silentLog } from './fakes.js';

const settings: SessionSettings = { ...sessionSettingsDefault, heartbeatIntervalMs: 1000, workerTtlMs: 10_000, graceMs: 15_000 };

describe('Housekeeping', () => {
  let node: FakeNode;
  let table: SessionTable;
  let keeper: Housekeeping;
  let kicks: number;

  function start(over: Partial<SessionSettings> = {}): void {
    keeper = new Housekeeping(fakeHost(node, { settings: { ...settings, ...over } }), table, () => kicks++);
    keeper.start();
  }

  beforeEach(() => {
    vi.useFakeTimers();
    node = new FakeNode(new Driver());
    table = new SessionTable(silentLog(), () => undefined);
    kicks = 0;
  });

  afterEach(() => {
    keeper.stop();
    vi.useRealTimers();
  });

  describe('worker TTLs', () => {
    let call: FakeCall;

    beforeEach(() => {
      node.driver.register(registration('w1'), Date.now());
      call = new FakeCall();
      table.open({ call: call.asCall(), workerId: 'w1', sent: new Set() }, Date.now());
    });

    it('proposes a silent worker lost once its TTL and the grace period have run out, once, and ends its session', async () => {
      start();
      await vi.advanceTimersByTimeAsync(settings.graceMs - 100);
      expect(node.ofType('worker-lost')).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1000);
      const lost = node.ofType('worker-lost');
      expect(lost).toHaveLength(1);
      expect(lost[0]!.command).toMatchObject({ type: 'worker-lost', workerId: 'w1', reason: expect.stringContaining(`TTL ${settings.workerTtlMs} ms`) as string });
      // Still out: later checks do not propose it again.
      await vi.advanceTimersByTimeAsync(settings.heartbeatIntervalMs * 5);
      expect(node.ofType('worker-lost')).toHaveLength(1);
      lost[0]!.commit();
      await settle();
      expect(call.writableEnded).toBe(true);
      expect(table.has('w1')).toBe(false);
      expect(node.driver.o.worker('w1')?.state).toBe('lost');
      expect(kicks).toBe(1);
      await vi.advanceTimersByTimeAsync(settings.workerTtlMs * 2);
      expect(node.ofType('worker-lost')).toHaveLength(1);
    });

    it('keeps a worker that is heard from', async () => {
      start({ graceMs: 0 });
      for (let i = 0; i < 30; i++) {
        table.heard('w1', Date.now());
        await vi.advanceTimersByTimeAsync(settings.heartbeatIntervalMs);
      }
      expect(node.ofType('worker-lost')).toHaveLength(0);
    });

    it('proposes the loss again after a rejected proposal', async () => {
      start({ graceMs: 0 });
      await vi.advanceTimersByTimeAsync(settings.workerTtlMs + settings.heartbeatIntervalMs);
      expect(node.ofType('worker-lost')).toHaveLength(1);
      node.ofType('worker-lost')[0]!.reject(new Error('proposal dropped'));
      await vi.advanceTimersByTimeAsync(settings.heartbeatIntervalMs);
      expect(node.ofType('worker-lost')).toHaveLength(2);
      expect(table.has('w1')).toBe(true);
    });

    it('stops when leadership is lost', async () => {
      start({ graceMs: 0 });
      keeper.stop();
      await vi.advanceTimersByTimeAsync(settings.workerTtlMs * 5 + pruneIntervalMs);
      expect(node.proposals).toHaveLength(0);
    });
  });

  it('ends a reset never reported done, proposing it once while it is out', async () => {
    // As in the orchestrator's tests: an infra error, a test failure, an infra error with no other worker → w1 is asked to reset.
    node.driver.register(registration('w1', { slots: 1 }), 0);
    node.driver.submit('r1', submission([template({ retries: 1 })]), 0);
    for (const [n, outcome] of [[1, infra], [2, failed], [3, infra]] as const) {
      node.driver.schedule(n * 100_000);
      const attempt = node.driver.o.worker('w1')!.running[0]!;
      node.driver.results([outcome(attempt, 'w1')], n * 100_000);
    }
    expect(node.driver.o.worker('w1')?.resetting).toBe(true);
    vi.setSystemTime(1_000_000);
    start({ graceMs: 10 ** 9, resetTimeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(6000);
    const done = node.ofType('worker-reset-done');
    expect(done).toHaveLength(1);
    expect(done[0]!.command).toMatchObject({ workerId: 'w1', ok: false });
    keeper.resetDone('w1', true, 'the worker says done');
    expect(node.ofType('worker-reset-done')).toHaveLength(1);
  });

  it('ends tasks nobody can run after unschedulableTimeoutMs, in one proposal', async () => {
    node.driver.register(registration('w1'), Date.now());
    const impossible = { ...noRequirements, labels: { gpu: 'h100' } };
    node.driver.submit('r1', submission([template({ requirements: impossible }), template({ suite: 'b', requirements: impossible }), template({ suite: 'c' })]), Date.now());
    start({ graceMs: 10 ** 9, unschedulableTimeoutMs: 2000 });
    await vi.advanceTimersByTimeAsync(1900);
    expect(node.ofType('fail-tasks')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    const fail = node.ofType('fail-tasks');
    expect(fail).toHaveLength(1);
    expect(fail[0]!.command).toMatchObject({ taskIds: ['r1.t1', 'r1.t2'], reason: expect.stringContaining('gpu') as string });
    await vi.advanceTimersByTimeAsync(2000);
    expect(node.ofType('fail-tasks')).toHaveLength(1);
    fail[0]!.commit();
    await vi.advanceTimersByTimeAsync(5000);
    expect(node.ofType('fail-tasks')).toHaveLength(1);
    expect(node.driver.o.unschedulableTasks(10)).toEqual([]);
  });

  it('prunes finished runs past retention', async () => {
    node.driver.register(registration('w1'), 0);
    node.driver.submit('r1', submission([template()]), 0);
    node.driver.schedule(1);
    node.driver.results([result(node.driver.o.worker('w1')!.running[0]!, 'w1')], 2);
    expect(node.driver.o.prunableBefore(3)).toBe(1);
    vi.setSystemTime(10_000_000);
    start({ graceMs: 10 ** 9, runRetentionMs: 1000 });
    await vi.advanceTimersByTimeAsync(pruneIntervalMs);
    const prune = node.ofType('prune-runs');
    expect(prune).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(pruneIntervalMs * 2);
    expect(node.ofType('prune-runs')).toHaveLength(1);
    prune[0]!.commit();
    await vi.advanceTimersByTimeAsync(pruneIntervalMs * 2);
    expect(node.ofType('prune-runs')).toHaveLength(1);
    expect(node.driver.o.listRuns()).toEqual([]);
  });
});
