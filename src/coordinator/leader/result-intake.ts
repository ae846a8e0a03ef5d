import type { Logger } from 'pino';

import type { AttemptResult } from '../../model/index.js';
import { validateResult } from '../orchestrator/validate.js';

/** What judging a worker's result needs. */
export interface IntakeHost {
  readonly log: Logger;
  /** The worker an attempt is assigned to, undefined for an attempt the state does not know. */
  attemptWorker(attemptId: string): string | undefined;
  onResultRefused?(reason: 'names-other-worker' | 'foreign-attempt'): void;
}

/** An infra-error result of class malformed-report for an attempt whose result cannot be committed as sent. */
export function malformedResult(result: AttemptResult, reason: string): AttemptResult {
  const number = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    attemptId: result.attemptId,
    taskId: result.taskId,
    workerId: result.workerId,
    outcome: 'infra-error',
    infraClass: 'malformed-report',
    reason: reason.slice(0, 4096),
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : null,
    signal: typeof result.signal === 'string' ? result.signal.slice(0, 32) : '',
    startedAtMs: number(result.startedAtMs),
    finishedAtMs: number(result.finishedAtMs),
    tests: [],
    outputTail: typeof result.outputTail === 'string' ? result.outputTail.slice(-8192) : '',
    logBytes: number(result.logBytes),
  };
}

/**
 * The result to commit for one `workerId` sent (JSON), or null to drop it.
 * A result that breaks a rule but names its attempt becomes an infra error
 * of class malformed-report, so the attempt still ends and the worker's
 * outbox drains; refusing it would have the worker resend it forever.
 */
export function acceptableResult(host: IntakeHost, workerId: string, text: string): AttemptResult | null {
  let result: AttemptResult;
  try {
    result = JSON.parse(text) as AttemptResult;
  } catch {
    host.log.warn({ workerId }, 'a result is not JSON; dropped');
    return null;
  }
  if (typeof result !== 'object' || result === null || typeof result.attemptId !== 'string' || typeof result.taskId !== 'string') {
    host.log.warn({ workerId }, 'a result names no attempt; dropped');
    return null;
  }
  if (result.workerId !== workerId) {
    host.onResultRefused?.('names-other-worker');
    host.log.warn({ workerId, attemptId: result.attemptId, names: result.workerId }, 'a result names another worker; refused');
    return null;
  }
  // Only the worker an attempt was assigned to may report it (an unknown attempt goes on, and apply answers it 'unknown').
  const owner = host.attemptWorker(result.attemptId);
  if (owner !== undefined && owner !== workerId) {
    host.onResultRefused?.('foreign-attempt');
    host.log.warn({ workerId, attemptId: result.attemptId, owner }, "a result for another worker's attempt; refused");
    return null;
  }
  const problem = validateResult(result);
  if (problem === null) return result;
  host.log.warn({ workerId, attemptId: result.attemptId, problem }, 'an invalid result is recorded as a malformed report');
  return malformedResult(result, `the worker sent an invalid result: ${problem}`);
}
