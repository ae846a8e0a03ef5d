import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { leaderHintWaitMs } from '../../../src/coordinator/leader/index.js';
import { SessionProtocol, type SessionSink } from '../../../src/coordinator/leader/session-protocol.js';
import { SessionTable } from '../../../src/coordinator/leader/session-table.js';
import type { WorkerHello } from '../../../src/model/index.js';
import { Driver, capabilities } from '../orchestrator-fixtures.js';
import { FakeCall, FakeNode, fakeHost, settle, silentLog } from './fakes.js';

function hello(over: Partial<WorkerHello> = {}): WorkerHello {
  return { workerId: 'w1', name: 'host-w1', slots: 2, httpAddress: '127.0.0.1:7070', capabilities: JSON.stringify(capabilities()), running: [], pending: [], version: 'test', sessionKey: 'k1', clusterId: 'c1', interrupted: [], bootId: '', uncleanStart: false, ...over };
}

describe('SessionProtocol', () => {
  let node: FakeNode;
  let table: SessionTable;
  let role: ReturnType<SessionSink['role']>;
  let leaderId: string;
  let received: { workerId: string; raw: readonly string[] }[];
  let resets: { workerId: string; ok: boolean }[];
  let kicks: number;
  let protocol: SessionProtocol;

  beforeEach(() => {
    vi.useFakeTimers();
    node = new FakeNode(new Driver());
    node.autoCommit = true;
    table = new SessionTable(silentLog(), (id) => node.driver.o.attemptOrder(id));
    role = 'leader';
    leaderId = 'n1';
    received = [];
    resets = [];
    kicks = 0;
    const host = fakeHost(node, { leaderHint: () => ({ leaderId, leaderAddress: leaderId === '' ? '' : '127.0.0.1:2' }) });
    protocol = new SessionProtocol(host, table, {
      role: () => role,
      results: (workerId, raw) => received.push({ workerId, raw }),
      resetDone: (workerId, ok) => resets.push({ workerId, ok }),
      kick: () => kicks++,
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  async function opened(message = hello()): Promise<FakeCall> {
    const call = new FakeCall();
    protocol.open(call.asCall());
    call.emit('data', { hello: message });
    await settle();
    return call;
  }

  it('registers a worker on hello, welcomes it and opens its session', async () => {
    const call = await opened();
    expect(node.ofType('register-worker').map((p) => p.command)).toMatchObject([{ workerId: 'w1', slots: 2 }]);
    expect(call.sent('welcome')).toEqual([{ workerId: 'w1', leaderId: 'n1', heartbeatIntervalMs: 1000, ttlMs: 10_000, clusterId: 'c1' }]);
    expect(table.has('w1')).toBe(true);
    expect(kicks).toBe(1);
  });

  it('acks heartbeats, marks the worker heard, and hands results and reset_done on', async () => {
    const call = await opened();
    await vi.advanceTimersByTimeAsync(5000);
    call.emit('data', { heartbeat: { seq: 7 } });
    expect(call.sent('heartbeatAck')).toEqual([{ seq: 7 }]);
    expect(table.lastSeen('w1')).toBe(Date.now());
    call.emit('data', { results: { results: ['{}'] }, resetDone: { ok: true, reason: '' } });
    expect(received).toEqual([{ workerId: 'w1', raw: ['{}'] }]);
    expect(resets).toEqual([{ workerId: 'w1', ok: true }]);
  });

  it('fails a stream whose first message is not hello', () => {
    const call = new FakeCall();
    protocol.open(call.asCall());
    call.emit('data', { heartbeat: { seq: 1 } });
    expect(call.failures).toMatchObject([{ code: grpc.status.INVALID_ARGUMENT }]);
    expect(node.proposals).toHaveLength(0);
  });

  it('refuses a worker of another cluster without a trace in the log', async () => {
    const call = await opened(hello({ clusterId: 'other' }));
    expect(call.failures).toMatchObject([{ code: grpc.status.FAILED_PRECONDITION }]);
    expect(node.proposals).toHaveLength(0);
    expect(table.has('w1')).toBe(false);
  });

  it('refuses a second session key for a registered worker id, and keeps the first session', async () => {
    const first = await opened();
    const impostor = await opened(hello({ sessionKey: 'k2' }));
    expect(impostor.failures).toMatchObject([{ code: grpc.status.PERMISSION_DENIED }]);
    expect(node.ofType('register-worker')).toHaveLength(1);
    expect(first.writableEnded).toBe(false);
    expect(table.has('w1')).toBe(true);
  });

  it('answers UNAVAILABLE with the leader hint when registration is not committed', async () => {
    node.autoCommit = false;
    leaderId = 'n2';
    const call = new FakeCall();
    protocol.open(call.asCall());
    call.emit('data', { hello: hello() });
    node.proposals[0]!.reject(new Error('leadership lost'));
    await settle();
    expect(call.sent('notLeader')).toEqual([{ leaderId: 'n2', leaderAddress: '127.0.0.1:2' }]);
    expect(call.failures).toMatchObject([{ code: grpc.status.UNAVAILABLE }]);
    expect(table.has('w1')).toBe(false);
  });

  it('on a follower sends the worker to the leader, waiting a while for one during an election', async () => {
    role = 'follower';
    leaderId = '';
    const call = new FakeCall();
    protocol.open(call.asCall());
    await vi.advanceTimersByTimeAsync(leaderHintWaitMs / 2);
    expect(call.written).toEqual([]);
    leaderId = 'n3';
    await vi.advanceTimersByTimeAsync(100);
    expect(call.written).toEqual([{ notLeader: { leaderId: 'n3', leaderAddress: '127.0.0.1:2' } }]);
    expect(call.writableEnded).toBe(true);
    expect(node.proposals).toHaveLength(0);
  });

  it('serves a session held during an election when this node wins it', async () => {
    role = 'follower';
    leaderId = '';
    const call = new FakeCall();
    protocol.open(call.asCall());
    role = 'leader';
    await vi.advanceTimersByTimeAsync(100);
    call.emit('data', { hello: hello() });
    await settle();
    expect(call.sent('welcome')).toHaveLength(1);
  });
});
