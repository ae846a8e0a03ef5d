// Merges a finished run's tasks, attempts and parsed JUnit cases into one
// verdict per test: the input of every report.
import type {
  AttemptView,
  RunState,
  RunView,
  TaskState,
  TaskTemplate,
  TaskView,
  TestCaseStatus,
} from '../model/types.js';
import { testId } from '../model/types.js';

/** One execution of a test: its case in one counted attempt. */
export interface MergedRun {
  readonly attemptId: string;
  /** The attempt's number within its task (1-based). */
  readonly attemptNumber: number;
  readonly workerId: string;
  readonly status: TestCaseStatus;
  readonly timeSec: number;
  readonly message: string;
  /** Failure type attribute; empty when absent. */
  readonly type: string;
  readonly details: string;
}

export interface MergedTest {
  /** Unique within the report (task, test id and occurrence). */
  readonly key: string;
  /** `classname::name` with the runner's class: the id the flakiness history uses. */
  readonly id: string;
  /** The suite label: the suite plus its matrix cell, e.g. `unit` or `e2e[locale=fr]`. */
  readonly suite: string;
  readonly taskId: string;
  /** The class reported (see {@link ClassnamePolicy}); `id` keeps the runner's. */
  readonly classname: string;
  readonly name: string;
  readonly file: string;
  /** The status in the task's last counted attempt that contains the test. */
  readonly status: TestCaseStatus;
  /** Passed in the end after failing or erroring in an earlier attempt (counts as passed). */
  readonly flaky: boolean;
  /** The test's time in its final run. */
  readonly timeSec: number;
  /** Every counted run of the test, oldest first; the last one is the final run. */
  readonly runs: readonly MergedRun[];
  /** Stands for a task that ended without a test verdict (infrastructure, cancellation). */
  readonly synthetic: boolean;
}

export interface TestCounts {
  readonly tests: number;
  /** Includes the flaky tests, as Surefire counts them. */
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly skipped: number;
  readonly flaky: number;
  /** Sum of the final runs' times. */
  readonly timeSec: number;
}

export interface MergedSuite {
  /** Suite label: `suite` or `suite[key=value,...]` for a matrix cell. */
  readonly name: string;
  readonly suite: string;
  readonly matrix: Readonly<Record<string, string>>;
  readonly taskIds: readonly string[];
  readonly tests: readonly MergedTest[];
  readonly counts: TestCounts;
}

/**
 * Which class a case is reported under in the merged JUnit (and shown under in
 * the HTML report). Runners such as Node's write one generic class for every
 * case (`classname="test"`), so consumers that group by class see one class.
 *  - `auto`: the runner's class, unless it is generic (empty, `test`, or the
 *    case's own name); then the test's file, else the suite label.
 *  - `file`: the test's file when known (the report's `file` attribute, or the
 *    task's only file), else as `auto`.
 *  - `suite`: the suite label (`suite` or `suite[k=v]`).
 *  - `runner`: exactly what the runner wrote.
 * A test's `id` (history, comparisons) always keeps the runner's class.
 */
export type ClassnamePolicy = 'auto' | 'file' | 'suite' | 'runner';

export const CLASSNAME_POLICIES: readonly ClassnamePolicy[] = ['auto', 'file', 'suite', 'runner'];

export interface MergeOptions {
  /** Default `auto`. */
  readonly classname?: ClassnamePolicy;
}

/** Class names runners write when they have none to give. */
const GENERIC_CLASSNAMES: ReadonlySet<string> = new Set(['', 'test']);

/** Whether the runner's class says nothing (see {@link ClassnamePolicy}). */
export function isGenericClassname(classname: string, name: string): boolean {
  return GENERIC_CLASSNAMES.has(classname.trim()) || classname === name;
}

/** The class a case is reported under; `taskFiles` are the files its task ran. */
export function reportClassname(
  policy: ClassnamePolicy,
  test: Pick<MergedTest, 'classname' | 'name' | 'file' | 'suite'>,
  taskFiles: readonly string[],
): string {
  if (policy === 'runner') return test.classname;
  if (policy === 'suite') return test.suite;
  const file = test.file !== '' ? test.file : taskFiles.length === 1 ? (taskFiles[0] ?? '') : '';
  if (policy === 'file' && file !== '') return file;
  if (!isGenericClassname(test.classname, test.name)) return test.classname;
  return file !== '' ? file : test.suite;
}

export interface MergedReport {
  readonly runId: string;
  readonly name: string;
  readonly state: RunState;
  readonly submittedAtMs: number;
  readonly finishedAtMs: number;
  /** In the order their first task appears in the run. */
  readonly suites: readonly MergedSuite[];
  readonly counts: TestCounts;
}

/** Attempt states whose report counts toward the verdict. */
const COUNTED_STATES: ReadonlySet<AttemptView['state']> = new Set(['passed', 'failed', 'infra-error']);

/**
 * Whether an attempt's report counts: it ended passed, failed or infra-error
 * with a result. Lost and cancelled attempts never count (and late results are
 * never in `result`).
 */
export function isCountedAttempt(attempt: AttemptView): boolean {
  return COUNTED_STATES.has(attempt.state) && attempt.result !== undefined;
}

/** The counted attempts of a task, oldest first. */
export function countedAttempts(task: TaskView): AttemptView[] {
  return task.attempts.filter(isCountedAttempt).sort((a, b) => a.number - b.number);
}

/** `suite` or `suite[k=v,...]` (matrix keys sorted). */
export function suiteLabel(template: Pick<TaskTemplate, 'suite' | 'matrix'>): string {
  const keys = Object.keys(template.matrix).sort();
  if (keys.length === 0) return template.suite;
  return `${template.suite}[${keys.map((k) => `${k}=${template.matrix[k] ?? ''}`).join(',')}]`;
}

/** Runs that failed or errored, oldest first. */
export function failingRuns(test: Pick<MergedTest, 'runs'>): MergedRun[] {
  return test.runs.filter((r) => r.status === 'failed' || r.status === 'error');
}

/** Task states that end a task without success. */
const UNSUCCESSFUL_TASK_STATES: ReadonlySet<TaskState> = new Set(['failed', 'failed-infra', 'cancelled']);

export function mergeRun(run: RunView, options: MergeOptions = {}): MergedReport {
  const policy = options.classname ?? 'auto';
  if (!CLASSNAME_POLICIES.includes(policy)) throw new Error(`unknown classname policy: ${JSON.stringify(policy)}`);
  interface SuiteAcc {
    suite: string;
    matrix: Readonly<Record<string, string>>;
    taskIds: string[];
    tests: MergedTest[];
  }
  const suites = new Map<string, SuiteAcc>();
  for (const task of run.tasks) {
    const label = suiteLabel(task.template);
    let acc = suites.get(label);
    if (acc === undefined) {
      acc = { suite: task.template.suite, matrix: task.template.matrix, taskIds: [], tests: [] };
      suites.set(label, acc);
    }
    acc.taskIds.push(task.taskId);
    const tests = mergeTask(task, label).map((t) => ({ ...t, classname: reportClassname(policy, t, task.files) }));
    acc.tests.push(...tests);
    if (UNSUCCESSFUL_TASK_STATES.has(task.state) && !tests.some((t) => t.status === 'failed' || t.status === 'error')) {
      acc.tests.push(syntheticTest(task, label));
    }
  }
  const merged: MergedSuite[] = [...suites].map(([name, acc]) => ({
    name,
    suite: acc.suite,
    matrix: acc.matrix,
    taskIds: acc.taskIds,
    tests: acc.tests,
    counts: countTests(acc.tests),
  }));
  return {
    runId: run.runId,
    name: run.name,
    state: run.state,
    submittedAtMs: run.submittedAtMs,
    finishedAtMs: run.finishedAtMs,
    suites: merged,
    counts: countTests(merged.flatMap((s) => s.tests)),
  };
}

export function countTests(tests: readonly MergedTest[]): TestCounts {
  let passed = 0;
  let failed = 0;
  let errors = 0;
  let skipped = 0;
  let flaky = 0;
  let timeSec = 0;
  for (const t of tests) {
    if (t.status === 'passed') passed++;
    else if (t.status === 'failed') failed++;
    else if (t.status === 'error') errors++;
    else skipped++;
    if (t.flaky) flaky++;
    timeSec += t.timeSec;
  }
  return { tests: tests.length, passed, failed, errors, skipped, flaky, timeSec: roundSec(timeSec) };
}

/** Rounds to milliseconds, dropping float noise from sums. */
export function roundSec(sec: number): number {
  return Math.round(sec * 1000) / 1000;
}

interface TestAcc {
  key: string;
  id: string;
  classname: string;
  name: string;
  file: string;
  runs: MergedRun[];
}

function mergeTask(task: TaskView, label: string): MergedTest[] {
  // Insertion order: the order in which tests first appear.
  const byKey = new Map<string, TestAcc>();
  for (const attempt of countedAttempts(task)) {
    const result = attempt.result;
    if (result === undefined) continue;
    // The same id twice in one report (e.g. parameterized cases with one
    // name): the k-th occurrence pairs with the k-th occurrence elsewhere.
    const occurrences = new Map<string, number>();
    for (const tc of result.tests) {
      const id = testId(tc);
      const occurrence = occurrences.get(id) ?? 0;
      occurrences.set(id, occurrence + 1);
      const key = `${task.taskId}\u0000${id}\u0000${occurrence}`;
      let acc = byKey.get(key);
      if (acc === undefined) {
        acc = { key, id, classname: tc.classname, name: tc.name, file: tc.file, runs: [] };
        byKey.set(key, acc);
      }
      if (tc.file !== '') acc.file = tc.file;
      acc.runs.push({
        attemptId: attempt.attemptId,
        attemptNumber: attempt.number,
        workerId: result.workerId || attempt.workerId,
        status: tc.status,
        timeSec: finiteNonNegative(tc.timeSec),
        message: tc.message,
        type: tc.type,
        details: tc.details,
      });
    }
  }
  const out: MergedTest[] = [];
  for (const acc of byKey.values()) {
    const final = acc.runs[acc.runs.length - 1];
    if (final === undefined) continue;
    const earlierFailed = acc.runs.slice(0, -1).some((r) => r.status === 'failed' || r.status === 'error');
    out.push({
      key: acc.key,
      id: acc.id,
      suite: label,
      taskId: task.taskId,
      classname: acc.classname,
      name: acc.name,
      file: acc.file,
      status: final.status,
      flaky: final.status === 'passed' && earlierFailed,
      timeSec: final.timeSec,
      runs: acc.runs,
      synthetic: false,
    });
  }
  return out;
}

function finiteNonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The case that stands for a task that ended unsuccessfully without a failing test. */
function syntheticTest(task: TaskView, label: string): MergedTest {
  const t = task.template;
  const classname = `testudo.${t.suite}`;
  const name = `${task.taskId} (shard ${t.shard}/${t.shardCount})`;
  const attempts = [...task.attempts].sort((a, b) => a.number - b.number);
  const last = attempts[attempts.length - 1];
  const lastResult = [...attempts].reverse().find((a) => a.result !== undefined)?.result;
  const message =
    task.reason ||
    (last?.result?.reason ?? '') ||
    (last?.reason ?? '') ||
    (task.state === 'failed' ? 'the task failed without a failing test' : `task ${task.state}`);
  const lines = [`task ${task.taskId} ended ${task.state}${task.reason ? `: ${task.reason}` : ''}`];
  if (attempts.length === 0) lines.push('no attempt was started');
  for (const a of attempts) {
    const r = a.result;
    const cls = r?.infraClass ? ` [${r.infraClass}]` : '';
    const reason = r?.reason || a.reason;
    const exit = r && r.exitCode !== null ? ` exit ${r.exitCode}` : r?.signal ? ` signal ${r.signal}` : '';
    const late = a.lateResults > 0 ? ` (${a.lateResults} late result(s) ignored)` : '';
    lines.push(`attempt ${a.number} on ${a.workerId || '?'}: ${a.state}${cls}${exit}${reason ? `: ${reason}` : ''}${late}`);
  }
  if (lastResult !== undefined && lastResult.outputTail !== '') {
    lines.push('', `--- output tail of attempt ${lastResult.attemptId} ---`, lastResult.outputTail);
  }
  const timeSec = lastResult ? finiteNonNegative((lastResult.finishedAtMs - lastResult.startedAtMs) / 1000) : 0;
  return {
    key: `${task.taskId}\u0000${classname}::${name}\u0000synthetic`,
    id: `${classname}::${name}`,
    suite: label,
    taskId: task.taskId,
    classname,
    name,
    file: '',
    status: 'error',
    flaky: false,
    timeSec,
    runs: [
      {
        attemptId: last?.attemptId ?? '',
        attemptNumber: last?.number ?? 0,
        workerId: last?.workerId ?? '',
        status: 'error',
        timeSec,
        message,
        type: task.state === 'cancelled' ? 'testudo.TaskCancelled' : task.state === 'failed' ? 'testudo.TaskFailed' : 'testudo.InfraFailure',
        details: lines.join('\n'),
      },
    ],
    synthetic: true,
  };
}
