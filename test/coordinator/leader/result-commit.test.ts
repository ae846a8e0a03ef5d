import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { pendingResultsMax, resultBatchesInflightMax, resultBatchMax, resultRetryDelayMs } from '../../../src/coordinator/leader/index.js';
import { ResultCommit } from '../../../src/coordinator/leader/result-commit.js';
import { SessionTable } from '../../../src/coordinator/leader/session-table.js';
import type { AttemptResult } from '../../../src/model/index.js';
import { Driver, registration, result, testCase } from '../orchestrator-fixtures.js';
import { FakeCall, FakeNode, fakeHost, settle, silentLog, type Proposal } from './fakes.js';

/** Results for attempts the state does not know (apply answers them 'unknown'): enough for the bounds. */
function results(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify(result(`r1.t${from + i}.a1`, 'w1')));
}

const attemptsOf = (p: Proposal): string[] => (p.command.type === 'results' ? p.command.results.map((r: AttemptResult) => r.attemptId) : []);

describe('ResultCommit', () => {
  let node: FakeNode;
  let call: FakeCall;
  let commit: ResultCommit;
  let kicks: number;
  let statuses: string[];

  beforeEach(() => {
    vi.useFakeTimers();
    node = new FakeNode(new Driver());
    node.driver.register(registration('w1'));
    const host = fakeHost(node, { onResults: (s) => statuses.push(...s.map((x) => x.status)) });
    const table = new SessionTable(silentLog(), () => undefined);
    call = new FakeCall();
    table.open({ call: call.asCall(), workerId: 'w1', sent: new Set() }, Date.now());
    kicks = 0;
    statuses = [];
    commit = new ResultCommit(host, table, () => kicks++);
    commit.start();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it(`proposes at most ${resultBatchMax} results per batch and at most ${resultBatchesInflightMax} batches at once`, async () => {
    const total = resultBatchMax * (resultBatchesInflightMax + 1) + 10;
    commit.receive('w1', results(total));
    expect(node.outstanding.size).toBe(resultBatchesInflightMax);
    expect(node.proposals.map((p) => attemptsOf(p).length)).toEqual(Array(resultBatchesInflightMax).fill(resultBatchMax));
    expect(commit.pendingCount).toBe(total - resultBatchMax * resultBatchesInflightMax);

    while (node.outstanding.size > 0) {
      expect(node.outstanding.size).toBeLessThanOrEqual(resultBatchesInflightMax);
      [...node.outstanding][0]!.commit();
      await settle();
    }
    const proposed = node.proposals.flatMap(attemptsOf);
    expect(proposed).toHaveLength(total);
    expect(new Set(proposed).size).toBe(total);
    expect(commit.pendingCount).toBe(0);
    expect(commit.inflightBatches).toBe(0);
  });

  it('tells the worker its results are committed only once they are applied', async () => {
    commit.receive('w1', results(3));
    await settle();
    expect(call.sent('committed')).toEqual([]);
    node.proposals[0]!.commit();
    await settle();
    expect(call.sent('committed')).toEqual([{ attemptIds: ['r1.t0.a1', 'r1.t1.a1', 'r1.t2.a1'] }]);
    expect(statuses).toEqual(['unknown', 'unknown', 'unknown']);
    expect(kicks).toBe(1);
  });

  it('does not lose a result whose proposal was rejected: it is proposed again after the retry delay', async () => {
    commit.receive('w1', results(3));
    const rejectedAtMs = Date.now();
    node.proposals[0]!.reject(new Error('leadership lost'));
    await settle();
    expect(call.sent('committed')).toEqual([]);
    await vi.advanceTimersByTimeAsync(rejectedAtMs + resultRetryDelayMs - 1 - Date.now());
    expect(node.proposals).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(node.proposals).toHaveLength(2);
    expect(attemptsOf(node.proposals[1]!)).toEqual(['r1.t0.a1', 'r1.t1.a1', 'r1.t2.a1']);
    node.proposals[1]!.commit();
    await settle();
    expect(call.sent('committed')).toEqual([{ attemptIds: ['r1.t0.a1', 'r1.t1.a1', 'r1.t2.a1'] }]);
  });

  it('after a step down drops what is pending and does not retry a failed batch (the workers resend to the next leader)', async () => {
    commit.receive('w1', results(resultBatchMax * resultBatchesInflightMax + 5));
    commit.stop();
    expect(commit.pendingCount).toBe(0);
    for (const p of [...node.outstanding]) p.reject(new Error('leadership lost'));
    await vi.advanceTimersByTimeAsync(resultRetryDelayMs * 10);
    expect(node.proposals).toHaveLength(resultBatchesInflightMax);
    expect(commit.pendingCount).toBe(0);
  });

  it(`refuses results beyond ${pendingResultsMax} waiting (the worker resends them)`, () => {
    const offered = pendingResultsMax + resultBatchMax * resultBatchesInflightMax + 7;
    commit.receive('w1', results(offered));
    // The bound holds while the results are taken in; the first batches leave only after.
    const proposed = node.proposals.flatMap(attemptsOf);
    expect(proposed).toHaveLength(resultBatchMax * resultBatchesInflightMax);
    expect(commit.pendingCount + proposed.length).toBe(pendingResultsMax);
  });

  it('halves a batch too big for one log entry, and shrinks a lone result to a malformed report', async () => {
    node.tooBig = (command) => command.type === 'results' && (command.results.length > 2 || command.results.some((r) => r.tests.length > 10));
    const huge = JSON.stringify(result('r1.t9.a1', 'w1', { tests: Array.from({ length: 20 }, (_, i) => testCase({ name: `case ${i}` })) }));
    commit.receive('w1', [...results(4), huge]);
    await settle();
    const accepted = node.proposals.filter((p) => node.outstanding.has(p));
    expect(accepted.map(attemptsOf)).toEqual([['r1.t0.a1', 'r1.t1.a1'], ['r1.t2.a1'], ['r1.t3.a1'], ['r1.t9.a1']]);
    const shrunk = accepted[3]!.command;
    expect(shrunk.type === 'results' && shrunk.results[0]!.infraClass).toBe('malformed-report');
    for (const p of accepted) p.commit();
    await settle();
    expect(call.sent('committed').flatMap((c) => (c as { attemptIds: string[] }).attemptIds).sort()).toEqual(['r1.t0.a1', 'r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1', 'r1.t9.a1']);
  });

  it('drops a result naming another worker, and turns an invalid one into a malformed report', () => {
    commit.receive('w1', [JSON.stringify(result('r1.t0.a1', 'w2')), 'not json', JSON.stringify({ ...result('r1.t1.a1', 'w1'), outcome: 'great' })]);
    expect(node.proposals).toHaveLength(1);
    const command = node.proposals[0]!.command;
    expect(command.type === 'results' && command.results.map((r) => [r.attemptId, r.infraClass])).toEqual([['r1.t1.a1', 'malformed-report']]);
  });
});
