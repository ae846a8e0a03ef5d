import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { scheduleTickMs } from '../../../src/coordinator/leader/index.js';
import { alongsideTasksMax } from '../../../src/coordinator/leader/schedule-loop.js';
import { ScheduleLoop } from '../../../src/coordinator/leader/schedule-loop.js';
import { SessionTable } from '../../../src/coordinator/leader/session-table.js';
import { Driver, registration, submission, template } from '../orchestrator-fixtures.js';
import { FakeCall, FakeNode, fakeHost, settle, silentLog } from './fakes.js';

describe('ScheduleLoop', () => {
  let node: FakeNode;
  let table: SessionTable;
  let loop: ScheduleLoop;
  let dispatched: number[];
  const calls = new Map<string, FakeCall>();

  function connect(workerId: string, slots = 2): void {
    node.driver.register(registration(workerId, { slots }), Date.now());
    const call = new FakeCall();
    calls.set(workerId, call);
    table.open({ call: call.asCall(), workerId, sent: new Set() }, Date.now());
  }

  const orders = (workerId: string): string[] => calls.get(workerId)!.sent('assign').flatMap((a) => (a as { orders: string[] }).orders.map((o) => (JSON.parse(o) as { attemptId: string }).attemptId));

  beforeEach(() => {
    vi.useFakeTimers();
    node = new FakeNode(new Driver());
    table = new SessionTable(silentLog(), (id) => node.driver.o.attemptOrder(id));
    dispatched = [];
    loop = new ScheduleLoop(fakeHost(node, { onDispatched: (ms) => dispatched.push(...ms) }), table);
    node.driver.submit('r1', submission(Array.from({ length: 5 }, (_, i) => template({ suite: `s${i}` }))), Date.now());
  });

  afterEach(() => {
    loop.stop();
    vi.useRealTimers();
  });

  it('runs one pass at a time: kicks while an assign is out fold into one pass after it', async () => {
    connect('w1');
    loop.start();
    await settle();
    expect(node.ofType('assign')).toHaveLength(1);
    expect(loop.currentPhase).toBe('proposing');
    for (let i = 0; i < 10; i++) loop.kick();
    await vi.advanceTimersByTimeAsync(scheduleTickMs * 3);
    expect(node.ofType('assign')).toHaveLength(1);

    connect('w2');
    node.proposals[0]!.commit();
    await settle();
    // The pass the loop asks for after a commit sees w2's free slots.
    const assigns = node.ofType('assign');
    expect(assigns).toHaveLength(2);
    expect(assigns[1]!.command.type === 'assign' && assigns[1]!.command.assignments.every((a) => a.workerId === 'w2')).toBe(true);
  });

  it('sends each worker its committed orders, once, and reports the first attempts dispatched', async () => {
    connect('w1');
    loop.start();
    await settle();
    expect(orders('w1')).toEqual([]);
    node.proposals[0]!.commit();
    await settle();
    // Two for its slots and one prefetched: 5 queued exceed its 2 free slots plus the fleet's 2 slots by one.
    expect(orders('w1')).toHaveLength(3);
    expect(dispatched).toHaveLength(3);
    // Slots full, and what stays queued (2) no more than the fleet's slots: the next pass plans nothing and proposes nothing.
    await vi.advanceTimersByTimeAsync(scheduleTickMs * 2);
    await settle();
    expect(node.ofType('assign')).toHaveLength(1);
    expect(loop.currentPhase).toBe('idle');
  });

  it('after a rejected assign plans again: the same work is proposed anew, nothing is sent for the rejected one', async () => {
    connect('w1');
    loop.start();
    await settle();
    node.proposals[0]!.reject(new Error('proposal dropped'));
    await settle();
    const assigns = node.ofType('assign');
    expect(assigns).toHaveLength(2);
    expect(assigns[1]!.command).toEqual(assigns[0]!.command);
    expect(orders('w1')).toEqual([]);
    assigns[1]!.commit();
    await settle();
    expect(orders('w1')).toHaveLength(3);
  });

  it('stops scheduling when leadership is lost: no pass after stop, even when one was queued or proposing', async () => {
    connect('w1', 1);
    loop.start();
    await settle();
    expect(node.ofType('assign')).toHaveLength(1);
    loop.stop();
    connect('w2');
    node.proposals[0]!.commit();
    loop.kick();
    await vi.advanceTimersByTimeAsync(scheduleTickMs * 10);
    expect(node.ofType('assign')).toHaveLength(1);
    expect(loop.currentPhase).toBe('idle');
  });

  it('proposes nothing while no connected worker can take the work', async () => {
    node.driver.register(registration('w9'), Date.now());
    loop.start();
    await vi.advanceTimersByTimeAsync(scheduleTickMs * 3);
    expect(node.proposals).toHaveLength(0);
  });
});

describe('ScheduleLoop: the first assignments of a submission, proposed right behind it', () => {
  let node: FakeNode;
  let table: SessionTable;
  let loop: ScheduleLoop;
  let call: FakeCall;
  const opts = { deadlineMs: Number.MAX_SAFE_INTEGER };

  const orders = (): string[] => call.sent('assign').flatMap((a) => (a as { orders: string[] }).orders.map((o) => (JSON.parse(o) as { attemptId: string }).attemptId));

  beforeEach(async () => {
    vi.useFakeTimers();
    node = new FakeNode(new Driver());
    table = new SessionTable(silentLog(), (id) => node.driver.o.attemptOrder(id));
    loop = new ScheduleLoop(fakeHost(node), table);
    node.driver.register(registration('w1', { slots: 2 }), Date.now());
    call = new FakeCall();
    table.open({ call: call.asCall(), workerId: 'w1', sent: new Set() }, Date.now());
    loop.start();
    await settle();
    expect(node.proposals).toHaveLength(0);
  });

  afterEach(() => {
    loop.stop();
    vi.useRealTimers();
  });

  /** What the SubmitRun handler does: the submit-run, then the assign alongside. */
  function submitAlongside(runId: string, tasks: number): Promise<unknown> {
    const sub = submission(Array.from({ length: tasks }, () => template()));
    const submitted = node.propose({ type: 'submit-run', runId, submission: sub }, opts);
    loop.proposeAlongside(runId, sub);
    return submitted;
  }

  it('on an idle queue: the assign is proposed before the run commits, its orders go out when it commits, and no pass plans the tasks again', async () => {
    const submitted = submitAlongside('r1', 2);
    expect(node.proposals.map((p) => p.command.type)).toEqual(['submit-run', 'assign']);
    expect(node.proposals[1]!.command).toEqual({
      type: 'assign',
      assignments: [
        { taskId: 'r1.t1', workerId: 'w1' },
        { taskId: 'r1.t2', workerId: 'w1' },
      ],
    });
    node.proposals[0]!.commit();
    await submitted;
    loop.kick();
    node.proposals[1]!.commit();
    await settle();
    expect(orders()).toEqual(['r1.t1.a1', 'r1.t2.a1']);
    await vi.advanceTimersByTimeAsync(scheduleTickMs * 3);
    expect(node.ofType('assign')).toHaveLength(1);
  });

  it('with other tasks queued proposes nothing alongside: the loop places the new tasks among them', async () => {
    node.driver.register(registration('w2', { slots: 1 }), Date.now());
    node.driver.submit('r0', submission([template(), template(), template(), template()]), Date.now());
    const submitted = submitAlongside('r1', 1);
    expect(node.proposals.map((p) => p.command.type)).toEqual(['submit-run']);
    node.proposals[0]!.commit();
    await submitted;
  });

  it('an assign that reaches the log before its run is skipped, and the next pass places the tasks', async () => {
    const submitted = submitAlongside('r1', 1);
    node.proposals[1]!.commit();
    await settle();
    expect(orders()).toEqual([]);
    expect(node.driver.o.getRun('r1')).toBeUndefined();
    node.proposals[0]!.commit();
    await submitted;
    loop.kick();
    await settle();
    const assigns = node.ofType('assign');
    expect(assigns).toHaveLength(2);
    assigns[1]!.commit();
    await settle();
    expect(orders()).toEqual(['r1.t1.a1']);
  });

  /** Only the submit-run went out; once it commits, the loop's next pass proposes the assign. */
  async function expectPlacedAfterCommit(submitted: Promise<unknown>): Promise<void> {
    expect(node.proposals.map((p) => p.command.type)).toEqual(['submit-run']);
    node.proposals[0]!.commit();
    await submitted;
    loop.kick();
    await settle();
    expect(node.proposals.map((p) => p.command.type)).toEqual(['submit-run', 'assign']);
  }

  it('proposes nothing alongside a run of more than alongsideTasksMax tasks: the loop places them after the apply', async () => {
    await expectPlacedAfterCommit(submitAlongside('r1', alongsideTasksMax + 1));
  });

  it('a run of exactly alongsideTasksMax tasks still has its first assign alongside', async () => {
    const submitted = submitAlongside('r1', alongsideTasksMax);
    expect(node.proposals.map((p) => p.command.type)).toEqual(['submit-run', 'assign']);
    node.proposals[0]!.commit();
    await submitted;
  });

  it('a plan that fails proposes nothing alongside and leaves the submit-run on its way', async () => {
    vi.spyOn(node.driver.o, 'previewQueued').mockImplementation(() => {
      throw new Error('planted: preview failed');
    });
    await expectPlacedAfterCommit(submitAlongside('r1', 2));
  });

  it('reports no negative queue time for the tasks it dispatches, planned before their run is stamped', async () => {
    loop.stop();
    const dispatched: number[] = [];
    // The leader's clock reads 5 ms before the stamp the (fake) log gives the run.
    loop = new ScheduleLoop(fakeHost(node, { nowMs: () => Date.now() - 5, onDispatched: (ms) => dispatched.push(...ms) }), table);
    loop.start();
    await settle();
    const submitted = submitAlongside('r1', 2);
    node.proposals[0]!.commit();
    await submitted;
    node.proposals[1]!.commit();
    await settle();
    expect(orders()).toEqual(['r1.t1.a1', 'r1.t2.a1']);
    expect(dispatched).toEqual([0, 0]);
  });

  it('after leadership is lost proposes nothing alongside', async () => {
    loop.stop();
    const submitted = submitAlongside('r1', 2);
    expect(node.proposals.map((p) => p.command.type)).toEqual(['submit-run']);
    node.proposals[0]!.commit();
    await submitted;
  });
});
