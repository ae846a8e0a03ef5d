// Builders for the orchestrator's tests: task templates, worker
// registrations, attempt results, and a thin driver that applies commands
// through the MachineExtension contract and checks invariants after each.

import { parseAttemptId } from '../../src/model/index.js';
import { encodeOrchCommand, type OrchCommand, type RegisterWorkerCommand } from '../../src/coordinator/orchestrator/commands.js';
import type {
  AssignOutcome,
  CancelOutcome,
  RegisterOutcome,
  ResultsOutcome,
  WorkerLostOutcome,
} from '../../src/coordinator/orchestrator/state.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { planAssignments, scheduleLimitsDefault, type ScheduleLimits, type SchedulableWorker } from '../../src/coordinator/orchestrator/scheduler.js';
import type { Assignment } from '../../src/coordinator/orchestrator/commands.js';
import type { AttemptResult, Capabilities, Requirements, RunSubmission, TaskTemplate, TestCaseResult } from '../../src/model/index.js';

export const noRequirements: Requirements = { labels: {}, cpus: 0, memoryMb: 0, tools: [] };

export function template(over: Partial<TaskTemplate> = {}): TaskTemplate {
  return {
    suite: 'unit',
    command: 'npm test',
    cwd: '.',
    shard: 1,
    shardCount: 1,
    files: [],
    splitByTimings: false,
    matrix: {},
    env: {},
    requirements: noRequirements,
    priority: 0,
    timeoutSec: 60,
    retries: 0,
    exclusive: false,
    ...over,
  };
}

export function submission(tasks: readonly TaskTemplate[], over: Partial<RunSubmission> = {}): RunSubmission {
  return { name: 'run', setup: ['npm ci'], setupCacheKey: 'abc123', sourceDir: '/src', tasks, ...over };
}

export function capabilities(over: Partial<Capabilities> = {}): Capabilities {
  return { labels: { os: 'linux', arch: 'x64', node: '20' }, cpus: 4, memoryMb: 8192, tools: ['git', 'node'], ...over };
}

export function registration(workerId: string, over: Partial<Omit<RegisterWorkerCommand, 'type' | 'workerId'>> = {}): RegisterWorkerCommand {
  return {
    type: 'register-worker',
    workerId,
    name: `host-${workerId}`,
    capabilities: capabilities(),
    slots: 2,
    httpAddress: `${workerId}:7070`,
    running: [],
    pending: [],
    ...over,
  };
}

export function testCase(over: Partial<TestCaseResult> = {}): TestCaseResult {
  return { classname: 'suite', name: 'works', file: '', status: 'passed', timeSec: 0.1, message: '', type: '', details: '', ...over };
}

/** A result for an attempt id of the form `<taskId>.a<n>` (the machine's scheme). */
export function result(attemptId: string, workerId: string, over: Partial<AttemptResult> = {}): AttemptResult {
  const taskId = parseAttemptId(attemptId)?.taskId;
  if (taskId === undefined) throw new Error(`fixture: ${attemptId} is not <runId>.t<k>.a<n>`);
  return {
    attemptId,
    taskId,
    workerId,
    outcome: 'passed',
    infraClass: '',
    reason: '',
    exitCode: 0,
    signal: '',
    startedAtMs: 1000,
    finishedAtMs: 2000,
    tests: [],
    outputTail: '',
    logBytes: 0,
    ...over,
  };
}

export const failed = (attemptId: string, workerId: string, over: Partial<AttemptResult> = {}): AttemptResult =>
  result(attemptId, workerId, { outcome: 'failed', exitCode: 1, reason: 'tests failed', ...over });

export const infra = (attemptId: string, workerId: string, infraClass: AttemptResult['infraClass'] = 'crash', over: Partial<AttemptResult> = {}): AttemptResult =>
  result(attemptId, workerId, { outcome: 'infra-error', infraClass, exitCode: null, reason: `${infraClass} happened`, ...over });

/**
 * An Orchestrator driven through `apply` with encoded payloads and a
 * monotonically increasing log index; `checkInvariants()` runs after every
 * command (also after refused ones).
 */
export class Driver {
  readonly o: Orchestrator;
  index = 0;

  constructor(o = new Orchestrator()) {
    this.o = o;
  }

  apply(command: OrchCommand, atMs: number): unknown {
    const { payload, deflated } = encodeOrchCommand(command);
    try {
      return this.o.apply(++this.index, atMs, payload, deflated);
    } finally {
      this.o.checkInvariants();
    }
  }

  register(cmd: RegisterWorkerCommand, atMs = 0): RegisterOutcome {
    return this.apply(cmd, atMs) as RegisterOutcome;
  }

  lost(workerId: string, atMs = 0, reason = 'heartbeat timeout'): WorkerLostOutcome {
    return this.apply({ type: 'worker-lost', workerId, reason }, atMs) as WorkerLostOutcome;
  }

  drain(workerId: string, drain: boolean, atMs = 0): { state: string } {
    return this.apply({ type: 'drain-worker', workerId, drain }, atMs) as { state: string };
  }

  submit(runId: string, sub: RunSubmission, atMs = 0): { runId: string; tasks: number } {
    return this.apply({ type: 'submit-run', runId, submission: sub }, atMs) as { runId: string; tasks: number };
  }

  assign(assignments: readonly Assignment[], atMs = 0): AssignOutcome {
    return this.apply({ type: 'assign', assignments }, atMs) as AssignOutcome;
  }

  results(results: readonly AttemptResult[], atMs = 0): ResultsOutcome {
    return this.apply({ type: 'results', results }, atMs) as ResultsOutcome;
  }

  cancel(runId: string, atMs = 0, reason = 'cancelled by user'): CancelOutcome {
    return this.apply({ type: 'cancel-run', runId, reason }, atMs) as CancelOutcome;
  }

  prune(finishedBeforeMs: number, atMs = 0): { pruned: string[] } {
    return this.apply({ type: 'prune-runs', finishedBeforeMs }, atMs) as { pruned: string[] };
  }

  /** Workers that may take work, with their free slots, as the leader feeds the scheduler. */
  schedulableWorkers(nowMs = 0): SchedulableWorker[] {
    return this.o.schedulableWorkers(nowMs);
  }

  plan(nowMs: number, limits: ScheduleLimits = scheduleLimitsDefault): Assignment[] {
    return planAssignments({
      queue: this.o.queuedTasks(),
      workers: this.schedulableWorkers(nowMs),
      runLoad: (runId) => this.o.runLoad(runId),
      nowMs,
      limits,
      queuedTotal: this.o.queuedCount,
    });
  }

  /** Plans at `nowMs` and applies the plan as one assign command. */
  schedule(nowMs: number, limits: ScheduleLimits = scheduleLimitsDefault): AssignOutcome {
    return this.assign(this.plan(nowMs, limits), nowMs);
  }

  snapshotHex(): string {
    return Buffer.from(this.o.snapshot()).toString('hex');
  }
}
