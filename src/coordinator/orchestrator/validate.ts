import type { AttemptResult, Capabilities, Requirements, RunSubmission, TaskTemplate, TestCaseResult } from '../../model/index.js';
import { spawnRetriesMax } from '../recovery/index.js';
import type { RegisterWorkerCommand } from './commands.js';

/**
 * Shape checks for what enters the orchestrator's state. The servers check
 * requests before proposing; apply checks again, because a command may come
 * from an older or buggy leader and a malformed record must be refused by
 * every replica alike rather than crash them.
 */

export const idBytesMax = 128;
export const runTasksMax = 50_000;
export const workerSlotsMax = 1024;
/** Interrupted attempts a worker may name in one registration (a previous process held at most its slots). */
export const interruptedMax = 4 * workerSlotsMax;
export const testsPerResultMax = 20_000;
export const outputTailBytesMax = 64 * 1024;
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export function idProblem(value: unknown, what: string): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${what} must be a non-empty string`;
  if (value.length > idBytesMax) return `${what} is longer than ${idBytesMax} characters`;
  if (!idPattern.test(value)) return `${what} ${JSON.stringify(value)} may hold only letters, digits, '_', '.', ':' and '-', starting with a letter or digit`;
  return null;
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;

function capabilitiesProblem(c: Capabilities): string | null {
  if (typeof c !== 'object' || c === null) return 'capabilities are missing';
  if (!isStringRecord(c.labels)) return 'capabilities.labels must map strings to strings';
  if (!isCount(c.cpus) || !isCount(c.memoryMb)) return 'capabilities.cpus and memoryMb must be non-negative integers';
  if (!isStringArray(c.tools)) return 'capabilities.tools must be strings';
  return null;
}

export function validateWorker(w: RegisterWorkerCommand): string | null {
  return (
    idProblem(w.workerId, 'worker id') ??
    (typeof w.name !== 'string' || w.name.length > 256 ? 'worker name must be a string of at most 256 characters' : null) ??
    (!isCount(w.slots, workerSlotsMax) || w.slots < 1 ? `slots must be an integer from 1 to ${workerSlotsMax}` : null) ??
    capabilitiesProblem(w.capabilities) ??
    (typeof w.httpAddress !== 'string' ? 'httpAddress must be a string' : null) ??
    (!isStringArray(w.running) || !isStringArray(w.pending) ? 'running and pending must be lists of attempt ids' : null) ??
    (w.interrupted !== undefined && (!isStringArray(w.interrupted) || w.interrupted.length > interruptedMax) ? `interrupted must be a list of at most ${interruptedMax} attempt ids` : null) ??
    (w.bootId !== undefined && (typeof w.bootId !== 'string' || w.bootId.length > idBytesMax) ? `bootId must be a string of at most ${idBytesMax} characters` : null) ??
    (w.uncleanStart !== undefined && typeof w.uncleanStart !== 'boolean' ? 'uncleanStart must be true or false' : null) ??
    (w.sessionKeyHash !== undefined && (typeof w.sessionKeyHash !== 'string' || !/^([0-9a-f]{64})?$/.test(w.sessionKeyHash)) ? 'sessionKeyHash must be empty or 64 hex digits' : null)
  );
}

function requirementsProblem(r: Requirements): string | null {
  if (typeof r !== 'object' || r === null) return 'requirements are missing';
  if (!isStringRecord(r.labels) || !isCount(r.cpus) || !isCount(r.memoryMb) || !isStringArray(r.tools)) return 'requirements are malformed';
  return null;
}

function templateProblem(t: TaskTemplate, position: number): string | null {
  const at = `task ${position + 1}`;
  if (typeof t !== 'object' || t === null) return `${at} is not an object`;
  if (typeof t.suite !== 'string' || t.suite === '') return `${at}: suite must be a non-empty string`;
  if (typeof t.command !== 'string' || t.command === '') return `${at}: command must be a non-empty string`;
  if (typeof t.cwd !== 'string') return `${at}: cwd must be a string`;
  if (!isCount(t.shardCount) || t.shardCount < 1 || !isCount(t.shard) || t.shard < 1 || t.shard > t.shardCount) return `${at}: shard must be within 1..shardCount`;
  if (!isStringArray(t.files) || typeof t.splitByTimings !== 'boolean') return `${at}: files must be strings`;
  if (t.queue !== undefined && typeof t.queue !== 'boolean') return `${at}: queue must be a boolean`;
  if (!isStringRecord(t.matrix) || !isStringRecord(t.env)) return `${at}: matrix and env must map strings to strings`;
  if (!Number.isSafeInteger(t.priority) || !isCount(t.timeoutSec) || t.timeoutSec < 1 || !isCount(t.retries, 100)) return `${at}: priority, timeoutSec or retries out of range`;
  if (typeof t.exclusive !== 'boolean') return `${at}: exclusive must be a boolean`;
  const r = requirementsProblem(t.requirements);
  return r === null ? null : `${at}: ${r}`;
}

export function validateSubmission(runId: string, s: RunSubmission): string | null {
  const id = idProblem(runId, 'run id');
  if (id !== null) return id;
  if (typeof s !== 'object' || s === null) return 'the submission is missing';
  if (typeof s.name !== 'string' || s.name === '' || s.name.length > 128) return 'name must be 1..128 characters';
  if (!isStringArray(s.setup) || typeof s.setupCacheKey !== 'string' || typeof s.sourceDir !== 'string') return 'setup, setupCacheKey and sourceDir are malformed';
  if (!Array.isArray(s.tasks)) return 'tasks must be a list';
  if (s.tasks.length > runTasksMax) return `a run may have at most ${runTasksMax} tasks, got ${s.tasks.length}`;
  for (let i = 0; i < s.tasks.length; i++) {
    const problem = templateProblem(s.tasks[i]!, i);
    if (problem !== null) return problem;
  }
  return null;
}

const outcomes = new Set(['passed', 'failed', 'infra-error']);
const testStatuses = new Set(['passed', 'failed', 'error', 'skipped']);

/** A test case as apply reads it (timings and flakiness); a malformed one would poison the histories. */
function testCaseProblem(t: TestCaseResult): string | null {
  if (typeof t !== 'object' || t === null) return 'a test case is not an object';
  if (typeof t.classname !== 'string' || typeof t.name !== 'string' || typeof t.file !== 'string') return 'a test case lacks classname, name or file';
  if (!testStatuses.has(t.status)) return `a test case has unknown status ${JSON.stringify(t.status)}`;
  if (typeof t.timeSec !== 'number' || !Number.isFinite(t.timeSec) || t.timeSec < 0) return 'a test case time must be a non-negative number';
  return null;
}

export function validateResult(r: AttemptResult): string | null {
  if (typeof r !== 'object' || r === null) return 'a result is not an object';
  if (typeof r.attemptId !== 'string' || typeof r.taskId !== 'string' || typeof r.workerId !== 'string') return 'a result lacks its ids';
  if (!outcomes.has(r.outcome)) return `result ${r.attemptId}: unknown outcome ${JSON.stringify(r.outcome)}`;
  if (r.outcome === 'infra-error' && (typeof r.infraClass !== 'string' || r.infraClass === '')) return `result ${r.attemptId}: an infra-error needs a class`;
  if (!Number.isFinite(r.startedAtMs) || !Number.isFinite(r.finishedAtMs)) return `result ${r.attemptId}: times must be numbers`;
  if (typeof r.reason !== 'string') return `result ${r.attemptId}: reason must be a string`;
  if (!Array.isArray(r.tests) || r.tests.length > testsPerResultMax) return `result ${r.attemptId}: at most ${testsPerResultMax} tests`;
  for (const t of r.tests) {
    const problem = testCaseProblem(t);
    if (problem !== null) return `result ${r.attemptId}: ${problem}`;
  }
  if (typeof r.outputTail !== 'string' || r.outputTail.length > outputTailBytesMax) return `result ${r.attemptId}: output tail over ${outputTailBytesMax} characters`;
  const retries = r.spawnRetries;
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= spawnRetriesMax)) {
    return `result ${r.attemptId}: spawnRetries must be an integer in 0..${spawnRetriesMax}`;
  }
  return null;
}
