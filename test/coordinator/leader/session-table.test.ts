import { describe, expect, it } from 'vitest';

import { sessionQueueMax } from '../../../src/coordinator/leader/index.js';
import { InflightProposals } from '../../../src/coordinator/leader/inflight.js';
import { SessionTable } from '../../../src/coordinator/leader/session-table.js';
import type { AttemptOrder } from '../../../src/model/index.js';
import { FakeCall, silentLog } from './fakes.js';

describe('SessionTable', () => {
  const order = (attemptId: string): AttemptOrder | undefined => (attemptId.startsWith('ended') ? undefined : ({ attemptId } as AttemptOrder));

  it('keeps one session per worker: a newer one ends the older', () => {
    const table = new SessionTable(silentLog(), order);
    const old = new FakeCall();
    const next = new FakeCall();
    const first = { call: old.asCall(), workerId: 'w1', sent: new Set<string>() };
    table.open(first, 1);
    table.open({ call: next.asCall(), workerId: 'w1', sent: new Set() }, 2);
    expect(old.writableEnded).toBe(true);
    expect(table.closed(first)).toBe(false);
    expect(table.has('w1')).toBe(true);
    expect(table.lastSeen('w1')).toBe(2);
  });

  it('sends an order once per session, and none for an ended attempt', () => {
    const table = new SessionTable(silentLog(), order);
    const call = new FakeCall();
    table.open({ call: call.asCall(), workerId: 'w1', sent: new Set(['a0']) }, 0);
    table.sendOrdersTo('w1', ['a0', 'a1', 'ended-a2']);
    table.sendOrdersTo('w1', ['a1']);
    expect(call.sent('assign')).toEqual([{ orders: [JSON.stringify({ attemptId: 'a1' })] }]);
  });

  it(`cuts a session more than ${sessionQueueMax} messages behind (the worker reconnects)`, () => {
    const table = new SessionTable(silentLog(), order);
    const call = new FakeCall();
    table.open({ call: call.asCall(), workerId: 'w1', sent: new Set() }, 0);
    call.writableLength = sessionQueueMax + 1;
    table.write('w1', { reset: { reason: 'test' } });
    expect(call.written).toEqual([]);
    expect(call.writableEnded).toBe(true);
    expect(table.has('w1')).toBe(false);
  });
});

describe('InflightProposals', () => {
  it('runs one proposal per key at a time', async () => {
    const inflight = new InflightProposals();
    let release = (): void => undefined;
    const started = inflight.maybeStart('lost:w1', () => new Promise<void>((resolve) => (release = resolve)));
    expect(started).toBe(true);
    expect(inflight.maybeStart('lost:w1', () => Promise.resolve())).toBe(false);
    expect(inflight.maybeStart('lost:w2', () => Promise.resolve())).toBe(true);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(inflight.has('lost:w1')).toBe(false);
    expect(inflight.size).toBe(0);
  });
});
