// The worker agent's local order queue (prefetch) against a real gRPC Worker
// service with scripted answers and the real process executor: orders beyond
// the slots wait and start one by one as slots free, each timed from its own
// start; a queued order is named in the next hello and a cancel drops it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AttemptOrder, AttemptResult } from '../../src/model/index.js';
import type { CoordinatorMessage, WorkerHello, WorkerMessageReceived } from '../../src/model/session.js';
import { WorkerAgent } from '../../src/worker/agent.js';
import { fakeCoordinator, onWorkerMessage, welcome, type FakeCoordinator, type SessionCall } from './fake-coordinator.js';
import { template, waitUntil } from './helpers.js';

/** A scripted leader: welcomes every session, records hellos and results, and lets the test write to the open session. */
class ScriptedLeader {
  readonly hellos: WorkerHello[] = [];
  readonly results: AttemptResult[] = [];
  private session: SessionCall | null = null;
  private fake: FakeCoordinator | null = null;
  address = '';

  async start(): Promise<void> {
    this.fake = await fakeCoordinator((call) => {
      onWorkerMessage(call, (message) => this.receive(call, message));
      call.on('error', () => undefined);
    });
    this.address = this.fake.address;
  }

  private receive(call: SessionCall, message: WorkerMessageReceived): void {
    if (message.hello) {
      this.hellos.push(message.hello);
      this.session = call;
      call.write(welcome(message.hello.workerId, 'n1', 200));
    }
    if (message.results) {
      const batch = message.results.results.map((text) => JSON.parse(text) as AttemptResult);
      this.results.push(...batch);
      // Committed at once: the outbox drops them, so no later session sends them again.
      call.write({ committed: { attemptIds: batch.map((r) => r.attemptId) } });
    }
  }

  write(message: CoordinatorMessage): void {
    if (this.session === null) throw new Error('no session open');
    this.session.write(message);
  }

  /** Ends the open session from the leader's side (the worker dials again and says hello). */
  endSession(): void {
    this.session?.end();
    this.session = null;
  }

  stop(): void {
    this.fake?.stop();
  }
}

/** A shell command that sleeps, then writes a one-test JUnit report (a result the executor counts as passed). */
function passingAfter(seconds: number): string {
  return `sleep ${seconds}; printf '<testsuite><testcase classname="c" name="a"/></testsuite>' > "$TESTUDO_JUNIT"`;
}

function order(attemptId: string, command: string, timeoutSec: number, sourceDir: string): string {
  const o: AttemptOrder = {
    attemptId,
    number: 1,
    taskId: attemptId.replace(/\.a1$/, ''),
    runId: 'r1',
    template: template({ command, timeoutSec }),
    files: [],
    setup: [],
    setupCacheKey: '',
    sourceDir,
  };
  return JSON.stringify(o);
}

describe('worker agent: orders beyond its slots', () => {
  const leader = new ScriptedLeader();
  let agent: WorkerAgent;
  let workDir: string;

  beforeAll(async () => {
    await leader.start();
    workDir = await mkdtemp(join(tmpdir(), 'testudo-agent-prefetch-'));
    agent = await WorkerAgent.start({
      coordinators: [leader.address],
      workDir,
      capabilities: { labels: {}, cpus: 1, memoryMb: 1024, tools: [] },
      slots: 1,
      logger: pino({ level: 'silent' }),
      reconnectBaseMs: 20,
      reconnectMaxMs: 50,
    });
    expect(await waitUntil(() => leader.hellos.length === 1 && agent.stats().connected, 10_000)).toBe(true);
  });

  afterAll(async () => {
    await agent.stop();
    leader.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('queues orders its slot cannot start, runs them one at a time in order, each timed from its own start', async () => {
    // Three 0.8 s tasks with a 1.5 s timeout on one slot: timed from the assignment, the last two would time out.
    // Each has 0.7 s to spare for its own start on a busy machine (0.4 s, with 0.6 s tasks and 1 s, was too tight beside a benchmark).
    const assignedAtMs = Date.now();
    leader.write({ assign: { orders: ['r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1'].map((id) => order(id, passingAfter(0.8), 1.5, workDir)) } });
    expect(await waitUntil(() => agent.stats().running === 1 && agent.stats().queued === 2, 5000)).toBe(true);
    expect(await waitUntil(() => leader.results.length === 3, 15_000)).toBe(true);
    expect(leader.results.map((r) => [r.attemptId, r.outcome])).toEqual([
      ['r1.t1.a1', 'passed'],
      ['r1.t2.a1', 'passed'],
      ['r1.t3.a1', 'passed'],
    ]);
    const [first, second, third] = leader.results as [AttemptResult, AttemptResult, AttemptResult];
    // One slot: each starts once the one before it ended, and well after it was assigned.
    expect(second.startedAtMs).toBeGreaterThanOrEqual(first.finishedAtMs);
    expect(third.startedAtMs).toBeGreaterThanOrEqual(second.finishedAtMs);
    expect(third.finishedAtMs - assignedAtMs).toBeGreaterThan(1500);
    expect(agent.stats().queued).toBe(0);
    // Each ran its command, so each was timed; the command phase holds the three 0.8 s sleeps.
    const phases = agent.stats().attemptPhases!;
    expect(phases.attempts).toBe(3);
    expect(phases.seconds.command).toBeGreaterThanOrEqual(2.4);
    for (const seconds of Object.values(phases.seconds)) expect(seconds).toBeGreaterThan(0);
  });

  it('names queued orders in the next hello, and drops a queued order the leader cancels (no result for it)', async () => {
    leader.results.length = 0;
    leader.write({ assign: { orders: [order('r1.t4.a1', passingAfter(1), 10, workDir), order('r1.t5.a1', 'true', 10, workDir), order('r1.t6.a1', 'true', 10, workDir)] } });
    expect(await waitUntil(() => agent.stats().running === 1 && agent.stats().queued === 2, 5000)).toBe(true);
    leader.endSession();
    expect(await waitUntil(() => leader.hellos.length === 2 && agent.stats().connected, 10_000)).toBe(true);
    expect(leader.hellos[1]!.running).toEqual(['r1.t4.a1', 'r1.t5.a1', 'r1.t6.a1']);
    // A repeat of a queued order is not queued twice.
    leader.write({ assign: { orders: [order('r1.t5.a1', 'true', 10, workDir)] } });
    leader.write({ cancel: { attemptIds: ['r1.t5.a1'], reason: 'run cancelled' } });
    expect(await waitUntil(() => leader.results.length === 2, 10_000)).toBe(true);
    expect(leader.results.map((r) => r.attemptId)).toEqual(['r1.t4.a1', 'r1.t6.a1']);
    expect(agent.stats().queued).toBe(0);
  });
});
