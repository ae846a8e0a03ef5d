/**
 * Task and attempt ids: the only place that builds them and the only place
 * that reads them back. A run's k-th task (1-based) is `<runId>.t<k>`; a
 * task's n-th attempt (1-based) is `<taskId>.a<n>`. The state machine builds
 * them while it applies a command, so they depend on the log only.
 */

/** The parts of an attempt id. */
export interface AttemptIdParts {
  readonly runId: string;
  readonly taskId: string;
  /** 1-based position of the task in its run. */
  readonly taskNumber: number;
  /** 1-based number of the attempt within its task. */
  readonly attemptNumber: number;
}

const attemptIdPattern = /^((.+)\.t(\d+))\.a(\d+)$/;

/** The id of the run's `taskNumber`-th task (1-based). */
export function taskIdOf(runId: string, taskNumber: number): string {
  return `${runId}.t${taskNumber}`;
}

/** The id of the task's `attemptNumber`-th attempt (1-based). */
export function attemptIdOf(taskId: string, attemptNumber: number): string {
  return `${taskId}.a${attemptNumber}`;
}

/** The parts of `attemptId`, or undefined when it is not `<runId>.t<k>.a<n>`. */
export function parseAttemptId(attemptId: string): AttemptIdParts | undefined {
  const match = attemptIdPattern.exec(attemptId);
  if (match === null) return undefined;
  const [, taskId = '', runId = '', taskNumber = '', attemptNumber = ''] = match;
  return {
    runId,
    taskId,
    taskNumber: Number(taskNumber),
    attemptNumber: Number(attemptNumber),
  };
}
