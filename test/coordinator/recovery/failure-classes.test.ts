import { describe, expect, it } from 'vitest';

import {
  classify,
  CrashError,
  DeliveryFailureError,
  evidenceCharsMax,
  faultClassDefaults,
  faultClasses,
  feedsBreaker,
  InfraFailure,
  infraFailureFrom,
  infraFailureOf,
  isFaultClass,
  LostWorkerError,
  MalformedReportError,
  MissingReportError,
  OutOfMemoryError,
  SetupFailureError,
  SpawnError,
  TimeoutError,
} from '../../../src/coordinator/recovery/index.js';
import type { AttemptResult, InfraFailureClass } from '../../../src/model/index.js';

function result(overrides: Partial<AttemptResult>): AttemptResult {
  return {
    attemptId: 'r1.t1.a1',
    taskId: 'r1.t1',
    workerId: 'w1',
    outcome: 'infra-error',
    infraClass: '',
    reason: '',
    exitCode: null,
    signal: '',
    startedAtMs: 1_000,
    finishedAtMs: 2_000,
    tests: [],
    outputTail: '',
    logBytes: 0,
    ...overrides,
  };
}

describe('classify', () => {
  it('tells test verdicts from infrastructure failures', () => {
    expect(classify(result({ outcome: 'passed' }))).toBe('passed');
    expect(classify(result({ outcome: 'failed', exitCode: 1 }))).toBe('test-failure');
    expect(classify(result({ infraClass: 'cancelled' }))).toBe('cancelled');
    expect(classify(result({ infraClass: 'timeout' }))).toBe('timeout');
  });

  it('reads an infra-error without a class as a crash, as the state machine does', () => {
    expect(classify(result({ infraClass: '' }))).toBe('crash');
  });

  it('maps every InfraFailureClass except cancelled to a fault class', () => {
    const all: InfraFailureClass[] = [...faultClasses, 'cancelled'];
    for (const c of all) {
      const classified = classify(result({ infraClass: c }));
      expect(classified).toBe(c);
      expect(isFaultClass(c)).toBe(c !== 'cancelled');
    }
  });
});

describe('typed errors', () => {
  const expected = {
    'spawn-error': SpawnError,
    'setup-failure': SetupFailureError,
    crash: CrashError,
    'out-of-memory': OutOfMemoryError,
    timeout: TimeoutError,
    'missing-report': MissingReportError,
    'malformed-report': MalformedReportError,
    'lost-worker': LostWorkerError,
    'delivery-failure': DeliveryFailureError,
  } as const;

  it('has one error class per fault class with the table flags', () => {
    for (const c of faultClasses) {
      const error = infraFailureOf(c, 'boom');
      expect(error).toBeInstanceOf(expected[c]);
      expect(error).toBeInstanceOf(InfraFailure);
      expect(error).toBeInstanceOf(Error);
      expect(error.failureClass).toBe(c);
      expect(error.name).toBe(expected[c].name);
      expect(error.retryable).toBe(faultClassDefaults[c].retryable);
      expect(error.feedsBreaker).toBe(faultClassDefaults[c].feedsBreaker);
      expect(faultClassDefaults[c].firstLevel === 1).toBe(faultClassDefaults[c].retryable);
    }
  });

  it('builds the error of a result with its evidence', () => {
    const error = infraFailureFrom(result({ infraClass: 'crash', reason: 'killed by signal SIGSEGV', signal: 'SIGSEGV', outputTail: 'segfault at 0\n', workerId: 'w7' }));
    expect(error).toBeInstanceOf(CrashError);
    expect(error?.message).toBe('killed by signal SIGSEGV');
    expect(error?.evidence).toBe('killed by signal SIGSEGV; signal SIGSEGV; output tail: segfault at 0');
    expect(error?.workerId).toBe('w7');
    expect(error?.attemptId).toBe('r1.t1.a1');
    expect(error?.retryable).toBe(true);
  });

  it('gives no error for passed, test-failed and cancelled results', () => {
    expect(infraFailureFrom(result({ outcome: 'passed' }))).toBeNull();
    expect(infraFailureFrom(result({ outcome: 'failed', exitCode: 1 }))).toBeNull();
    expect(infraFailureFrom(result({ infraClass: 'cancelled' }))).toBeNull();
  });

  it('bounds the evidence', () => {
    const error = infraFailureFrom(result({ infraClass: 'missing-report', reason: 'x'.repeat(5_000), exitCode: 0, outputTail: 'y'.repeat(5_000) }));
    expect(error).toBeInstanceOf(MissingReportError);
    expect(error?.evidence.length).toBe(evidenceCharsMax);
    expect(error?.message).toBe('x'.repeat(5_000));
  });

  it('uses the class meaning when a result has no reason', () => {
    expect(infraFailureFrom(result({ infraClass: 'lost-worker' }))?.message).toBe(faultClassDefaults['lost-worker'].meaning);
  });
});

describe('which classes feed the breaker', () => {
  it('never counts test failures, timeouts or report problems against a worker', () => {
    expect(feedsBreaker('test-failure')).toBe(false);
    expect(feedsBreaker('timeout')).toBe(false);
    expect(feedsBreaker('missing-report')).toBe(false);
    expect(feedsBreaker('malformed-report')).toBe(false);
  });

  it('counts machine faults', () => {
    for (const c of ['spawn-error', 'setup-failure', 'crash', 'out-of-memory', 'lost-worker', 'delivery-failure'] as const) expect(feedsBreaker(c)).toBe(true);
  });
});
