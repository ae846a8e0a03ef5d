import { describe, expect, it } from 'vitest';

import { spawnRetriesMax } from '../../src/model/index.js';
import { Driver, infra, registration, result, submission, template } from './orchestrator-fixtures.js';

/**
 * Spawn retries in place (docs/recovery.md): every order tells its worker
 * how often it may start a command again that could not be started, from
 * the replicated settings; the worker's count comes back on the result and
 * is kept with the attempt, where `runs show --explain` prints it.
 */
describe('Orchestrator: spawn retries in place', () => {
  function oneTask(over: Record<string, unknown> = {}): Driver {
    const d = new Driver();
    if (Object.keys(over).length > 0) d.apply({ type: 'set-breaker-config', config: over }, 0);
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 10);
    return d;
  }

  it('orders carry the settings\' spawnRetries, and none with adaptive recovery off (the fixed policy)', () => {
    expect(oneTask().o.attemptOrder('r1.t1.a1')?.spawnRetries).toBe(2);
    expect(oneTask({ spawnRetries: 4 }).o.attemptOrder('r1.t1.a1')?.spawnRetries).toBe(4);
    expect(oneTask({ spawnRetries: 4, adaptiveRecovery: false }).o.attemptOrder('r1.t1.a1')?.spawnRetries).toBe(0);
    expect(() => oneTask({ spawnRetries: spawnRetriesMax + 1 })).toThrow(/spawnRetries must be an integer in 0\.\.5/);
  });

  it('keeps the worker\'s count with the attempt, whatever the outcome', () => {
    const d = oneTask();
    expect(d.results([result('r1.t1.a1', 'w1', { spawnRetries: 1 })], 500)).toEqual({ statuses: [{ attemptId: 'r1.t1.a1', status: 'counted' }] });
    expect(d.o.getRun('r1')?.tasks[0]?.attempts[0]?.result?.spawnRetries).toBe(1);

    const failed = oneTask();
    failed.results([infra('r1.t1.a1', 'w1', 'spawn-error', { spawnRetries: 2 })], 500);
    const attempts = failed.o.getRun('r1')?.tasks[0]?.attempts ?? [];
    expect(attempts[0]?.result).toMatchObject({ infraClass: 'spawn-error', spawnRetries: 2 });
  });

  it('refuses a results command whose count is not an integer in 0..spawnRetriesMax, and changes nothing', () => {
    for (const bad of [-1, 1.5, spawnRetriesMax + 1]) {
      const d = oneTask();
      const before = d.snapshotHex();
      expect(() => d.results([result('r1.t1.a1', 'w1', { spawnRetries: bad })], 500)).toThrow(/spawnRetries must be an integer in 0\.\.5/);
      expect(d.snapshotHex()).toBe(before);
    }
  });
});
