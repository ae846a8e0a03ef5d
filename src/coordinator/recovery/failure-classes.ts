import type { AttemptResult, InfraFailureClass } from '../../model/index.js';

/**
 * The failure classes of an attempt. A failed attempt is either a test
 * failure (the command ran and reported failing tests: a result, never a
 * fault) or one of the infrastructure classes below. Only infrastructure
 * failures ("faults") feed the per-worker breaker and the recovery ladder,
 * and of those only the ones whose `feedsBreaker` is set count against the
 * worker. See docs/recovery.md for why each class is set as it is.
 */

/** The infrastructure classes: `InfraFailureClass` without 'cancelled' (an operator's act, not a fault). */
export type FaultClass = Exclude<InfraFailureClass, 'cancelled'>;

export type FailureClass = 'test-failure' | FaultClass;

/** What `classify` says about a result: a failure class, or not a failure at all. */
export type AttemptClassification = 'passed' | 'cancelled' | FailureClass;

/** Recovery levels the ladder knows (see ladder.ts): 1 retry, 2 move, 3 reset, 4 quarantine, 5 give up. */
export type RecoveryLevel = 1 | 2 | 3 | 4 | 5;

export interface FaultClassInfo {
  /** One line: what happened. */
  readonly meaning: string;
  /** What the result keeps as evidence. */
  readonly evidence: string;
  /**
   * Running the same attempt again on the same worker may plausibly succeed
   * (a transient fault). Not retryable classes skip ladder level 1.
   */
  readonly retryable: boolean;
  /** Counts as a failure in the worker's breaker window (otherwise it counts as a success). */
  readonly feedsBreaker: boolean;
  /** The lowest ladder level this class may start at (1 when retryable). */
  readonly firstLevel: RecoveryLevel;
}

/** Every fault class in a fixed order (tables, metrics, tests iterate it). */
export const faultClasses: readonly FaultClass[] = [
  'spawn-error',
  'setup-failure',
  'crash',
  'out-of-memory',
  'timeout',
  'missing-report',
  'malformed-report',
  'lost-worker',
  'delivery-failure',
];

/** The defaults of each fault class; docs/recovery.md explains each choice. */
export const faultClassDefaults: Readonly<Record<FaultClass, FaultClassInfo>> = {
  'spawn-error': {
    meaning: 'the worker could not start the command (attempt directory, working directory, fork/exec)',
    evidence: 'the system error and the path involved',
    retryable: true,
    feedsBreaker: true,
    firstLevel: 1,
  },
  'setup-failure': {
    meaning: "the run's setup commands failed on this worker",
    evidence: 'the failing setup command, its exit code and output tail',
    retryable: false,
    feedsBreaker: true,
    firstLevel: 3,
  },
  crash: {
    meaning: 'the command was killed by a signal (not by Testudo)',
    evidence: 'the signal and the output tail',
    retryable: true,
    feedsBreaker: true,
    firstLevel: 1,
  },
  'out-of-memory': {
    meaning: 'the command was killed for running out of memory',
    evidence: 'the signal and the out-of-memory lines of the output',
    retryable: false,
    feedsBreaker: true,
    firstLevel: 2,
  },
  timeout: {
    meaning: "the command outlived the task's timeout and its process group was ended",
    evidence: 'the timeout, how the group was ended (SIGTERM/SIGKILL), the output tail',
    retryable: true,
    feedsBreaker: false,
    firstLevel: 1,
  },
  'missing-report': {
    meaning: 'the command exited without failing tests and without a JUnit report',
    evidence: 'the exit code, the report paths looked at, the output tail',
    retryable: false,
    feedsBreaker: false,
    firstLevel: 2,
  },
  'malformed-report': {
    meaning: 'the JUnit report could not be parsed',
    evidence: "the parser's error and the exit code",
    retryable: false,
    feedsBreaker: false,
    firstLevel: 2,
  },
  'lost-worker': {
    meaning: "the worker's session time-to-live ran out while it held the attempt",
    evidence: 'the reason the leader recorded (time-to-live, last contact)',
    retryable: false,
    feedsBreaker: true,
    firstLevel: 2,
  },
  'delivery-failure': {
    meaning: 'the worker ran the attempt but could not deliver its result',
    evidence: 'the delivery error from the outbox',
    retryable: true,
    feedsBreaker: true,
    firstLevel: 1,
  },
};

export function isFaultClass(value: string): value is FaultClass {
  return Object.hasOwn(faultClassDefaults, value);
}

/** True when a failure of this class counts against the worker's breaker. Test failures never do. */
export function feedsBreaker(failureClass: FailureClass): boolean {
  return failureClass !== 'test-failure' && faultClassDefaults[failureClass].feedsBreaker;
}

/**
 * Classifies an attempt's result. An infra-error without a class is a crash
 * (the orchestrator's state machine reads it the same way).
 */
export function classify(result: AttemptResult): AttemptClassification {
  if (result.outcome === 'passed') return 'passed';
  if (result.outcome === 'failed') return 'test-failure';
  if (result.infraClass === 'cancelled') return 'cancelled';
  return result.infraClass === '' ? 'crash' : result.infraClass;
}

/** Longest evidence string an InfraFailure keeps. */
export const evidenceCharsMax = 2_000;
/** Output tail characters quoted into the evidence. */
const evidenceTailChars = 600;

// ------------------------------------------------------------------ errors

export interface InfraFailureOptions {
  readonly evidence?: string;
  readonly attemptId?: string;
  readonly workerId?: string;
  readonly cause?: unknown;
}

/** An attempt failed for an infrastructure reason; one subclass per fault class. */
export abstract class InfraFailure extends Error {
  abstract readonly failureClass: FaultClass;
  /** What the result showed, bounded to evidenceCharsMax. */
  readonly evidence: string;
  readonly attemptId: string;
  readonly workerId: string;

  constructor(message: string, options: InfraFailureOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.evidence = boundEvidence(options.evidence ?? message);
    this.attemptId = options.attemptId ?? '';
    this.workerId = options.workerId ?? '';
  }

  /** Running it again on the same worker may succeed (see faultClassDefaults). */
  get retryable(): boolean {
    return faultClassDefaults[this.failureClass].retryable;
  }

  /** Counts against the worker's breaker. */
  get feedsBreaker(): boolean {
    return faultClassDefaults[this.failureClass].feedsBreaker;
  }
}

export class SpawnError extends InfraFailure {
  override readonly name = 'SpawnError';
  readonly failureClass = 'spawn-error';
}

export class SetupFailureError extends InfraFailure {
  override readonly name = 'SetupFailureError';
  readonly failureClass = 'setup-failure';
}

export class CrashError extends InfraFailure {
  override readonly name = 'CrashError';
  readonly failureClass = 'crash';
}

export class OutOfMemoryError extends InfraFailure {
  override readonly name = 'OutOfMemoryError';
  readonly failureClass = 'out-of-memory';
}

export class TimeoutError extends InfraFailure {
  override readonly name = 'TimeoutError';
  readonly failureClass = 'timeout';
}

export class MissingReportError extends InfraFailure {
  override readonly name = 'MissingReportError';
  readonly failureClass = 'missing-report';
}

export class MalformedReportError extends InfraFailure {
  override readonly name = 'MalformedReportError';
  readonly failureClass = 'malformed-report';
}

export class LostWorkerError extends InfraFailure {
  override readonly name = 'LostWorkerError';
  readonly failureClass = 'lost-worker';
}

export class DeliveryFailureError extends InfraFailure {
  override readonly name = 'DeliveryFailureError';
  readonly failureClass = 'delivery-failure';
}

const errorClasses: Readonly<Record<FaultClass, new (message: string, options?: InfraFailureOptions) => InfraFailure>> = {
  'spawn-error': SpawnError,
  'setup-failure': SetupFailureError,
  crash: CrashError,
  'out-of-memory': OutOfMemoryError,
  timeout: TimeoutError,
  'missing-report': MissingReportError,
  'malformed-report': MalformedReportError,
  'lost-worker': LostWorkerError,
  'delivery-failure': DeliveryFailureError,
};

/** The typed error of a fault class. */
export function infraFailureOf(failureClass: FaultClass, message: string, options?: InfraFailureOptions): InfraFailure {
  return new errorClasses[failureClass](message, options);
}

/** The typed error of a result, or null when the result is not an infrastructure failure (passed, test failure, cancelled). */
export function infraFailureFrom(result: AttemptResult): InfraFailure | null {
  const classification = classify(result);
  if (classification === 'passed' || classification === 'cancelled' || classification === 'test-failure') return null;
  const message = result.reason === '' ? faultClassDefaults[classification].meaning : result.reason;
  return infraFailureOf(classification, message, { evidence: evidenceOf(result), attemptId: result.attemptId, workerId: result.workerId });
}

/** The evidence line of a result: its reason, exit code or signal, and the end of its output. */
export function evidenceOf(result: AttemptResult): string {
  const parts: string[] = [];
  if (result.reason !== '') parts.push(result.reason);
  if (result.exitCode !== null) parts.push(`exit code ${result.exitCode}`);
  if (result.signal !== '') parts.push(`signal ${result.signal}`);
  const tail = result.outputTail.trimEnd();
  if (tail !== '') parts.push(`output tail: ${tail.length > evidenceTailChars ? `…${tail.slice(-evidenceTailChars)}` : tail}`);
  return boundEvidence(parts.join('; '));
}

function boundEvidence(text: string): string {
  return text.length <= evidenceCharsMax ? text : `${text.slice(0, evidenceCharsMax - 1)}…`;
}
