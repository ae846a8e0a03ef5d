// A worker id is bound to the session key it first registered with, in the
// deterministic apply path; and a result for an attempt assigned to another
// worker never counts. (The leader also refuses both before proposing: see
// test/security/auth-cluster.test.ts.)

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ExtensionCommandError } from '../../src/coordinator/kv-machine.js';
import { workerIdentityRefusal } from '../../src/coordinator/orchestrator/state.js';
import { loadOrCreateSessionKey, sessionKeyHash } from '../../src/security/auth-token.js';
import { Driver, registration, result, submission, template } from '../coordinator/orchestrator-fixtures.js';

const keyA = sessionKeyHash('a'.repeat(43));
const keyB = sessionKeyHash('b'.repeat(43));

describe('worker identity in the state machine', () => {
  it('refuses a registration under a bound id with another key, changing nothing', () => {
    const d = new Driver();
    d.register(registration('w1', { sessionKeyHash: keyA }));
    const before = d.snapshotHex();
    for (const other of [keyB, '', undefined]) {
      expect(() => d.register(registration('w1', { name: 'impostor', slots: 9, ...(other === undefined ? {} : { sessionKeyHash: other }) }))).toThrow(ExtensionCommandError);
    }
    expect(d.snapshotHex()).toBe(before);
    expect(d.o.worker('w1')?.name).toBe('host-w1');
    // The holder of the key registers again as often as it likes.
    d.register(registration('w1', { sessionKeyHash: keyA, slots: 3 }));
    expect(d.o.worker('w1')?.slots).toBe(3);
  });

  it('names the refusal so the leader answers PERMISSION_DENIED', () => {
    const d = new Driver();
    d.register(registration('w1', { sessionKeyHash: keyA }));
    expect(() => d.register(registration('w1', { sessionKeyHash: keyB }))).toThrow(workerIdentityRefusal);
  });

  it('binds a worker registered without a key (an older one) on its first registration with a key', () => {
    const d = new Driver();
    d.register(registration('w1'));
    expect(d.o.workerKeyHash('w1')).toBe('');
    d.register(registration('w1'));
    d.register(registration('w1', { sessionKeyHash: keyA }));
    expect(d.o.workerKeyHash('w1')).toBe(keyA);
    expect(() => d.register(registration('w1'))).toThrow(ExtensionCommandError);
  });

  it('forgets the key of a lost worker only (forget-worker-key), so a new key binds the id', () => {
    const d = new Driver();
    d.register(registration('w1', { sessionKeyHash: keyA }));
    const forget = { type: 'forget-worker-key', workerId: 'w1', reason: 'machine rebuilt' } as const;
    const before = d.snapshotHex();
    // A worker that still holds its id keeps it; an unknown id and a missing reason are refused.
    expect(() => d.apply(forget, 10)).toThrow(/w1 is active, not lost/);
    expect(() => d.apply({ ...forget, workerId: 'nope' }, 10)).toThrow(/unknown worker nope/);
    expect(() => d.apply({ ...forget, reason: '' }, 10)).toThrow(/reason is required/);
    expect(d.snapshotHex()).toBe(before);
    d.lost('w1', 20);
    expect(d.apply(forget, 30)).toEqual({ wasBound: true });
    expect(d.o.workerKeyHash('w1')).toBe('');
    expect(d.apply(forget, 40)).toEqual({ wasBound: false });
    d.register(registration('w1', { sessionKeyHash: keyB }), 50);
    expect(d.o.workerKeyHash('w1')).toBe(keyB);
    expect(() => d.register(registration('w1', { sessionKeyHash: keyA }), 60)).toThrow(workerIdentityRefusal);
  });

  it('refuses a malformed key hash', () => {
    const d = new Driver();
    expect(() => d.register(registration('w1', { sessionKeyHash: 'not-hex' }))).toThrow(/sessionKeyHash/);
  });

  it('never counts a result for an attempt assigned to another worker', () => {
    const d = new Driver();
    d.register(registration('w1', { sessionKeyHash: keyA }));
    d.register(registration('w2', { sessionKeyHash: keyB }));
    d.submit('r1', submission([template()]));
    const assigned = d.schedule(1000).assigned;
    expect(assigned).toHaveLength(1);
    const { attemptId, workerId } = assigned[0]!;
    const other = workerId === 'w1' ? 'w2' : 'w1';
    expect(d.o.attemptWorker(attemptId)).toBe(workerId);
    expect(d.o.attemptWorker('nope.a1')).toBeUndefined();
    const forged = d.results([result(attemptId, other)], 2000);
    expect(forged.statuses).toEqual([{ attemptId, status: 'late' }]);
    expect(d.o.runSummary('r1')?.counts.passed).toBe(0);
    expect(d.results([result(attemptId, workerId)], 3000).statuses).toEqual([{ attemptId, status: 'counted' }]);
    expect(d.o.runSummary('r1')?.state).toBe('passed');
  });
});

describe('the worker session key file', () => {
  it('is created once with mode 0600 and read back the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-key-'));
    try {
      const key = await loadOrCreateSessionKey(dir);
      expect(key.length).toBeGreaterThanOrEqual(32);
      expect(await loadOrCreateSessionKey(dir)).toBe(key);
      expect((await stat(join(dir, 'session-key'))).mode & 0o777).toBe(0o600);
      expect((await readFile(join(dir, 'session-key'), 'utf8')).trim()).toBe(key);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
