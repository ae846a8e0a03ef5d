import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { Leader, pruneIntervalMs, scheduleTickMs, sessionSettingsDefault } from '../../../src/coordinator/leader/index.js';
import type { WorkerHello } from '../../../src/model/index.js';
import { Driver, capabilities, result, submission, template } from '../orchestrator-fixtures.js';
import { FakeCall, FakeNode, fakeHost, settle } from './fakes.js';

describe('Leader', () => {
  let node: FakeNode;
  let leader: Leader;

  beforeEach(() => {
    vi.useFakeTimers();
    node = new FakeNode(new Driver());
    node.autoCommit = true;
    leader = new Leader(fakeHost(node, { leaderHint: () => ({ leaderId: 'n2', leaderAddress: '127.0.0.1:2' }), settings: { ...sessionSettingsDefault, graceMs: 0 } }));
  });

  afterEach(() => {
    leader.stop();
    vi.useRealTimers();
  });

  async function connect(workerId: string): Promise<FakeCall> {
    const call = new FakeCall();
    leader.handler()(call.asCall() as never);
    // As grpc-js hands it over: every field present (src/model/session.ts).
    const hello: WorkerHello = { workerId, name: workerId, slots: 1, httpAddress: '', capabilities: JSON.stringify(capabilities()), running: [], pending: [], version: 'test', sessionKey: '', clusterId: '', interrupted: [], bootId: '', uncleanStart: false };
    call.emit('data', { hello });
    await settle();
    return call;
  }

  const attemptsSent = (call: FakeCall): string[] => call.sent('assign').flatMap((a) => (a as { orders: string[] }).orders.map((o) => (JSON.parse(o) as { attemptId: string }).attemptId));

  it('runs a task end to end: register, assign, result, committed', async () => {
    leader.setLeader(true);
    node.driver.submit('r1', submission([template()]), Date.now());
    const call = await connect('w1');
    const [attemptId] = attemptsSent(call);
    expect(attemptId).toBe('r1.t1.a1');
    call.emit('data', { results: { results: [JSON.stringify(result(attemptId!, 'w1'))] } });
    await settle();
    expect(call.sent('committed')).toEqual([{ attemptIds: [attemptId] }]);
    expect(node.driver.o.runSummary('r1')?.state).toBe('passed');
  });

  it('stops its loops and ends every session with a leader hint when leadership is lost', async () => {
    leader.setLeader(true);
    const call = await connect('w1');
    expect(leader.sessionCount).toBe(1);
    leader.setLeader(false);
    expect(call.sent('notLeader')).toEqual([{ leaderId: 'n2', leaderAddress: '127.0.0.1:2' }]);
    expect(call.writableEnded).toBe(true);
    expect(leader.sessionCount).toBe(0);

    // Work arrives and the worker's TTL runs out: a follower proposes nothing.
    const before = node.proposals.length;
    node.driver.submit('r1', submission([template()]), Date.now());
    leader.kick();
    await vi.advanceTimersByTimeAsync(Math.max(scheduleTickMs, pruneIntervalMs, sessionSettingsDefault.workerTtlMs) * 2);
    expect(node.proposals).toHaveLength(before);
  });

  it('sends a session opened on a follower to the leader', async () => {
    const call = new FakeCall();
    leader.handler()(call.asCall() as never);
    await settle();
    expect(call.written).toEqual([{ notLeader: { leaderId: 'n2', leaderAddress: '127.0.0.1:2' } }]);
  });

  it('takes the loops up again when it leads again', async () => {
    leader.setLeader(true);
    leader.setLeader(false);
    leader.setLeader(true);
    node.driver.submit('r1', submission([template()]), Date.now());
    const call = await connect('w1');
    expect(attemptsSent(call)).toEqual(['r1.t1.a1']);
  });
});
