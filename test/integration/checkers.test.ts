import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import type { RunView } from '../../src/model/index.js';
import { leadersByTerm, missingWrites } from './harness.js';
import { countedAttempts, countedTests } from './runs-harness.js';

/** The integration tests' checkers must be able to fail: each is shown a planted violation. */
describe('integration checkers catch planted violations', () => {
  it('leadersByTerm reports two leaders logged for one term', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-checker-'));
    try {
      const members = new Map<string, { logPath: string }>();
      for (const id of ['n1', 'n2']) {
        await mkdir(join(dir, id));
        const logPath = join(dir, id, 'coordinator.log');
        const line = (term: number, role: string): string => JSON.stringify({ nodeId: id, event: 'raft-state', term, leader: id, role });
        await writeFile(logPath, [line(4, 'follower'), line(5, 'leader'), 'not json but no event'].join('\n'));
        members.set(id, { logPath });
      }
      const byTerm = await leadersByTerm({ members } as unknown as LocalCluster);
      expect([...(byTerm.get(5) ?? [])].sort()).toEqual(['n1', 'n2']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('missingWrites reports an acknowledged write the cluster lost or changed', async () => {
    const stored = [
      { key: 'p/1', value: new TextEncoder().encode('1'), modIndex: 5 },
      { key: 'p/3', value: new TextEncoder().encode('x'), modIndex: 7 },
    ];
    const client = {
      async *listAll() {
        yield* stored;
      },
    } as unknown as TestudoClient;
    const acked = new Map([
      ['p/1', '1'],
      ['p/2', '2'],
      ['p/3', '3'],
    ]);
    expect(await missingWrites(client, acked, 'p')).toEqual(['p/2', 'p/3']);
  });
});

describe('run checkers catch planted violations', () => {
  const result = (attemptId: string, name: string, outcome: 'passed' | 'failed') => ({
    attemptId,
    taskId: 't1',
    workerId: 'w1',
    outcome,
    infraClass: '' as const,
    reason: '',
    exitCode: 0,
    signal: '',
    startedAtMs: 0,
    finishedAtMs: 1,
    tests: [{ classname: 'it', name, file: '', status: outcome, timeSec: 1, message: '', type: '', details: '' }],
    outputTail: '',
    logBytes: 0,
  });
  const attempt = (n: number, outcome: 'passed' | 'failed', name: string) => ({
    attemptId: `t1.a${n}`,
    number: n,
    workerId: 'w1',
    assignedAtMs: 0,
    state: outcome,
    result: result(`t1.a${n}`, name, outcome),
    reason: '',
    lateResults: 0,
  });

  it('countedAttempts sees a task whose result was counted twice', () => {
    // The planted bug: a second counted pass for the same task (what a state
    // machine that counted a duplicate or late result would record).
    const run = { tasks: [{ taskId: 't1', attempts: [attempt(1, 'passed', 't1'), attempt(2, 'passed', 't1')] }] } as unknown as RunView;
    expect(countedAttempts(run).get('t1')).toBe(2);
  });

  it('countedTests sees a lost test', () => {
    const run = { tasks: [{ taskId: 't1', attempts: [] }] } as unknown as RunView;
    expect(countedTests(run)).toEqual([]);
    const ok = { tasks: [{ taskId: 't1', attempts: [attempt(1, 'failed', 'x'), attempt(2, 'passed', 'x')] }] } as unknown as RunView;
    expect(countedTests(ok)).toEqual(['x']);
  });
});
