// The Common Test Report Format (CTRF) report: one JSON document per run, as
// the CTRF specification 0.0.0 and its JSON schema define it. CTRF has no
// `error` status: an erroring test is `failed` with `rawStatus: "error"`.
import { testudoVersion } from '../common/version.js';
import type { MergedReport, MergedRun, MergedTest } from './merge.js';

export const CTRF_SPEC_VERSION = '0.0.0';

export type CtrfStatus = 'passed' | 'failed' | 'skipped' | 'pending' | 'other';

export interface CtrfRetryAttempt {
  readonly attempt: number;
  readonly attemptId?: string;
  readonly status: CtrfStatus;
  readonly duration: number;
  readonly message?: string;
  readonly trace?: string;
}

export interface CtrfTest {
  readonly name: string;
  readonly status: CtrfStatus;
  /** Milliseconds. */
  readonly duration: number;
  readonly rawStatus: string;
  readonly suite: readonly string[];
  readonly filePath?: string;
  readonly message?: string;
  readonly trace?: string;
  readonly retries: number;
  readonly retryAttempts?: readonly CtrfRetryAttempt[];
  readonly flaky: boolean;
  /** The worker that ran the final attempt. */
  readonly threadId?: string;
  readonly extra: { readonly testudo: { readonly id: string; readonly taskId: string; readonly attemptId: string; readonly synthetic: boolean } };
}

export interface CtrfReport {
  readonly reportFormat: 'CTRF';
  readonly specVersion: string;
  readonly runId: string;
  readonly timestamp: string;
  readonly generatedBy: string;
  readonly results: {
    readonly tool: { readonly name: 'testudo'; readonly version: string };
    readonly summary: {
      readonly tests: number;
      readonly passed: number;
      readonly failed: number;
      readonly skipped: number;
      readonly pending: number;
      readonly other: number;
      readonly flaky: number;
      readonly suites: number;
      /** Milliseconds since the epoch. */
      readonly start: number;
      readonly stop: number;
      readonly duration: number;
    };
    readonly tests: readonly CtrfTest[];
    readonly environment: { readonly reportName: string };
    readonly extra: { readonly testudo: { readonly state: string; readonly errors: number } };
  };
}

export interface CtrfOptions {
  /** Worker display names by id (the final attempt's worker is the test's `threadId`). */
  readonly workerName?: (workerId: string) => string;
}

function ctrfStatus(status: MergedRun['status']): CtrfStatus {
  return status === 'error' ? 'failed' : status;
}

function ms(sec: number): number {
  return Number.isFinite(sec) && sec > 0 ? Math.round(sec * 1000) : 0;
}

function retryAttempt(run: MergedRun): CtrfRetryAttempt {
  const failing = run.status === 'failed' || run.status === 'error';
  return {
    attempt: Math.max(1, run.attemptNumber),
    ...(run.attemptId !== '' ? { attemptId: run.attemptId } : {}),
    status: ctrfStatus(run.status),
    duration: ms(run.timeSec),
    ...(failing && run.message !== '' ? { message: run.message } : {}),
    ...(failing && run.details !== '' ? { trace: run.details } : {}),
  };
}

function ctrfTest(test: MergedTest, workerName: (id: string) => string): CtrfTest {
  const final = test.runs[test.runs.length - 1];
  const failing = test.status === 'failed' || test.status === 'error';
  const earlier = test.runs.slice(0, -1);
  const worker = final?.workerId ?? '';
  return {
    name: test.name !== '' ? test.name : test.id,
    status: ctrfStatus(test.status),
    duration: ms(test.timeSec),
    rawStatus: test.status,
    suite: test.classname !== '' && test.classname !== test.suite ? [test.suite, test.classname] : [test.suite],
    ...(test.file !== '' ? { filePath: test.file } : {}),
    ...(failing && final !== undefined && final.message !== '' ? { message: final.message } : {}),
    ...(failing && final !== undefined && final.details !== '' ? { trace: final.details } : {}),
    retries: earlier.length,
    ...(earlier.length > 0 ? { retryAttempts: earlier.map(retryAttempt) } : {}),
    flaky: test.flaky,
    ...(worker !== '' ? { threadId: workerName(worker) } : {}),
    extra: { testudo: { id: test.id, taskId: test.taskId, attemptId: final?.attemptId ?? '', synthetic: test.synthetic } },
  };
}

/** The run as a CTRF document. Deterministic: no generated ids, times from the run. */
export function buildCtrf(report: MergedReport, options: CtrfOptions = {}): CtrfReport {
  const workerName = options.workerName ?? ((id: string) => id);
  const tests = report.suites.flatMap((s) => s.tests).map((t) => ctrfTest(t, workerName));
  const count = (status: CtrfStatus): number => tests.filter((t) => t.status === status).length;
  const start = report.submittedAtMs;
  const stop = report.finishedAtMs >= start ? report.finishedAtMs : start;
  return {
    reportFormat: 'CTRF',
    specVersion: CTRF_SPEC_VERSION,
    runId: report.runId,
    timestamp: new Date(stop).toISOString(),
    generatedBy: `testudo ${testudoVersion}`,
    results: {
      tool: { name: 'testudo', version: testudoVersion },
      summary: {
        tests: tests.length,
        passed: count('passed'),
        failed: count('failed'),
        skipped: count('skipped'),
        pending: count('pending'),
        other: count('other'),
        flaky: tests.filter((t) => t.flaky).length,
        suites: report.suites.length,
        start,
        stop,
        duration: stop - start,
      },
      tests,
      environment: { reportName: report.name },
      extra: { testudo: { state: report.state, errors: report.counts.errors } },
    },
  };
}

export function renderCtrf(report: MergedReport, options: CtrfOptions = {}): string {
  return `${JSON.stringify(buildCtrf(report, options), null, 2)}\n`;
}
