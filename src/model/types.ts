// The records shared by the run spec, the coordinator's state machine, the
// worker, the client and the reports. Plain data (JSON-safe): these travel in
// replicated commands, gRPC messages and report files.

/** A worker's labels and measured capacities, as it registers them. */
export interface Capabilities {
  /** Free-form labels; `os`, `arch`, `node` are always set by detection. */
  readonly labels: Readonly<Record<string, string>>;
  readonly cpus: number;
  readonly memoryMb: number;
  /** Executables found on PATH among those a spec may require (sorted). */
  readonly tools: readonly string[];
}

/** What a task needs from the worker that runs it. */
export interface Requirements {
  /** Each label must be present with this exact value. */
  readonly labels: Readonly<Record<string, string>>;
  /** 0: no minimum. */
  readonly cpus: number;
  /** 0: no minimum. */
  readonly memoryMb: number;
  /** Executables that must be on the worker's PATH. */
  readonly tools: readonly string[];
}

/** One unit of work as the spec expands it (suite × matrix cell × shard). */
export interface TaskTemplate {
  readonly suite: string;
  readonly command: string;
  /** Relative to the worker's checkout for the run, or absolute. */
  readonly cwd: string;
  /** 1-based shard number and the shard count (1/1 when unsharded). */
  readonly shard: number;
  readonly shardCount: number;
  /**
   * Files this shard runs (relative to `<checkout>/<cwd>`). With `by: timings`
   * every shard of the suite carries the whole file list here and
   * `splitByTimings` is true: the coordinator splits it from its history.
   */
  readonly files: readonly string[];
  readonly splitByTimings: boolean;
  /**
   * `by: queue`: the suite's N templates each carry the whole file list; the
   * coordinator keeps the files as a queue and carves each batch task's files
   * when it assigns it (docs/orchestrator.md, "Queue mode"). Absent: false.
   */
  readonly queue?: boolean;
  /** Matrix values, also exported to the command's environment. */
  readonly matrix: Readonly<Record<string, string>>;
  /** Extra environment for the command. */
  readonly env: Readonly<Record<string, string>>;
  readonly requirements: Requirements;
  /** Higher runs first. */
  readonly priority: number;
  readonly timeoutSec: number;
  /** Further attempts after one that failed tests (infrastructure failures have their own budget, infraRetriesMax). */
  readonly retries: number;
  /** Not parallel-safe: runs alone, after the run's parallel-safe tasks. */
  readonly exclusive: boolean;
}

/** A run as `testudo run` submits it, after the spec is parsed and expanded. */
export interface RunSubmission {
  readonly name: string;
  /** Setup commands each worker runs once per cache key before its first task of the run. */
  readonly setup: readonly string[];
  /** Key under which a worker caches a successful setup (for example the commit). */
  readonly setupCacheKey: string;
  /** Absolute directory of the spec on the submitting machine (the default checkout). */
  readonly sourceDir: string;
  readonly tasks: readonly TaskTemplate[];
}

export type TaskState = 'queued' | 'running' | 'passed' | 'failed' | 'cancelled' | 'failed-infra';
export type AttemptState = 'running' | 'passed' | 'failed' | 'infra-error' | 'lost' | 'cancelled';
export type RunState = 'running' | 'passed' | 'failed' | 'cancelled';

/** How a test case ended, as JUnit tells it. */
export type TestCaseStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestCaseResult {
  readonly classname: string;
  readonly name: string;
  /** The file the case came from, when the report says. */
  readonly file: string;
  readonly status: TestCaseStatus;
  readonly timeSec: number;
  /** Failure or error message (bounded); empty when passed. */
  readonly message: string;
  /** Failure type attribute; empty when absent. */
  readonly type: string;
  /** Failure body: stack or details (bounded); empty when passed. */
  readonly details: string;
}

/** Why an attempt failed without a test verdict. */
export type InfraFailureClass =
  | 'spawn-error'
  | 'setup-failure'
  | 'crash'
  | 'out-of-memory'
  | 'timeout'
  | 'missing-report'
  | 'malformed-report'
  | 'lost-worker'
  | 'delivery-failure'
  | 'cancelled';

/** An attempt as a worker needs it to run (the leader sends it in an assignment). */
export interface AttemptOrder {
  readonly attemptId: string;
  readonly number: number;
  readonly taskId: string;
  readonly runId: string;
  readonly template: TaskTemplate;
  readonly files: readonly string[];
  readonly setup: readonly string[];
  readonly setupCacheKey: string;
  readonly sourceDir: string;
  /**
   * Times the worker may try again to start a command that could not be
   * started (nothing ran), within this attempt (docs/recovery.md, "Spawn
   * retries in place"). Absent (an older coordinator): none.
   */
  readonly spawnRetries?: number;
}

/** The most spawn retries in place an attempt may make (their waits double from 100 ms: 3.1 s in all at 5). */
export const spawnRetriesMax = 5;

/** What a worker reports when an attempt ends. */
export interface AttemptResult {
  readonly attemptId: string;
  readonly taskId: string;
  readonly workerId: string;
  /** 'passed' and 'failed' are test verdicts; 'infra-error' carries `infraClass`. */
  readonly outcome: 'passed' | 'failed' | 'infra-error';
  readonly infraClass: InfraFailureClass | '';
  /** Human-readable reason for infra errors (and for failed commands without failing tests). */
  readonly reason: string;
  readonly exitCode: number | null;
  readonly signal: string;
  /** Worker clock. */
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly tests: readonly TestCaseResult[];
  /** Last bytes of stdout+stderr (bounded). */
  readonly outputTail: string;
  /** Full log size on the worker (fetch it from the worker's HTTP /logs/<attemptId>). */
  readonly logBytes: number;
  /** Starts that failed and were tried again in place (absent: none); counted whatever the outcome. */
  readonly spawnRetries?: number;
}

/** One attempt of a task as the coordinator records it. */
export interface AttemptView {
  readonly attemptId: string;
  readonly number: number;
  readonly workerId: string;
  readonly assignedAtMs: number;
  readonly state: AttemptState;
  /** Absent while running, and for attempts ended without a report (lost, cancelled). */
  readonly result?: AttemptResult;
  /** Reason for lost/cancelled attempts. */
  readonly reason: string;
  /** Results that arrived after the attempt was superseded: recorded, never counted. */
  readonly lateResults: number;
  /** A speculative copy started while the task's previous attempt straggled (hedging at the tail); absent otherwise. */
  readonly hedge?: true;
  /** A hedge: why the previous attempt was hedged ('' from a leader older than this field). */
  readonly hedgedBecause?: string;
}

export interface TaskView {
  readonly taskId: string;
  readonly runId: string;
  readonly template: TaskTemplate;
  /** The files this task runs (after a timing split). */
  readonly files: readonly string[];
  readonly state: TaskState;
  /** Set when the task ended: the reason for failed-infra and cancelled. */
  readonly reason: string;
  readonly queuedAtMs: number;
  readonly finishedAtMs: number;
  /** Expected duration from the timing history (the median when unknown). */
  readonly expectedMs: number;
  readonly attempts: readonly AttemptView[];
  /** Recovery decisions after infrastructure failures, oldest first: why each retry went where it did. */
  readonly decisions: readonly DecisionView[];
}

/** One step of the recovery ladder taken for a task (see docs/recovery.md). */
export interface DecisionView {
  readonly atMs: number;
  readonly attemptId: string;
  readonly workerId: string;
  readonly failureClass: string;
  /** 1 retry on the same worker, 2 move, 3 reset the worker, 4 quarantine it, 5 give up. */
  readonly level: number;
  readonly action: string;
  readonly reason: string;
}

export interface RunCounts {
  readonly tasks: number;
  readonly queued: number;
  readonly running: number;
  readonly passed: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly failedInfra: number;
}

export interface RunSummary {
  readonly runId: string;
  readonly name: string;
  readonly state: RunState;
  readonly submittedAtMs: number;
  readonly finishedAtMs: number;
  readonly counts: RunCounts;
  /** A task of the run was given up after infrastructure failures (recovery level 5). */
  readonly degraded: boolean;
}

/**
 * A queued or running task of a running run, as the dashboard's queue lists
 * it: what a row needs and no more (no attempts, no results), so the list is
 * built without a run's full view.
 */
export interface LiveTaskView {
  readonly runId: string;
  readonly runName: string;
  readonly taskId: string;
  readonly template: TaskTemplate;
  readonly state: 'queued' | 'running';
  readonly queuedAtMs: number;
  /** Attempts started so far. */
  readonly attempts: number;
  /** The worker of the running attempt; '' while queued. */
  readonly workerId: string;
  /** When the running attempt was assigned; 0 while queued. */
  readonly startedAtMs: number;
}

export interface RunView extends RunSummary {
  readonly setup: readonly string[];
  readonly setupCacheKey: string;
  readonly sourceDir: string;
  readonly tasks: readonly TaskView[];
  /** Flakiness rate (0..1) from the history for the tests in this run, keyed by `flakinessKey(suite, testId)`. */
  readonly flakiness: Readonly<Record<string, number>>;
  /** The counts behind `flakiness`, keyed the same way (absent from views recorded before they were kept). */
  readonly flakinessHistory?: Readonly<Record<string, FlakinessRecord>>;
  /** Name and log address of each worker the run's attempts went to, by worker id (absent as above). */
  readonly workers?: Readonly<Record<string, RunWorker>>;
}

/** A test's flakiness history: its runs that reached a verdict, and of those the flaky ones. */
export interface FlakinessRecord {
  readonly runs: number;
  readonly flaky: number;
}

/** A worker as a run's reports name it. */
export interface RunWorker {
  readonly name: string;
  /** `host:port` of its HTTP server (its /logs/<attemptId>), or empty. */
  readonly httpAddress: string;
}

export type WorkerState = 'active' | 'draining' | 'lost';

export interface WorkerView {
  readonly workerId: string;
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly slots: number;
  readonly state: WorkerState;
  readonly registeredAtMs: number;
  /** Attempts running there now. */
  readonly running: readonly string[];
  /** HTTP address serving logs, `host:port`, or empty. */
  readonly httpAddress: string;
  /** The worker's circuit breaker (closed, open, half-open, forced-open = quarantined, disabled). */
  readonly breaker: { readonly state: string; readonly reason: string; readonly sinceMs: number };
  /** Out of scheduling while it cleans its work dir and reruns setup (recovery level 3). */
  readonly resetting: boolean;
}

/** The key of a test's flakiness rate: its suite (without matrix values) and test id. */
export function flakinessKey(suite: string, id: string): string {
  return `${suite}/${id}`;
}

/** The id of a test case across runs. */
export function testId(test: Pick<TestCaseResult, 'classname' | 'name'>): string {
  return `${test.classname}::${test.name}`;
}

/** A leader's replication progress for one member, as the Cluster service reports it. */
export interface FollowerProgress {
  id: string;
  match: number;
  next: number;
  /** probe | replicate | snapshot */
  state: string;
  /** Its log went back below what it acknowledged; `testudo cluster repair-member` resets it. */
  regressed: boolean;
  regressedMatch: number;
  followerLastIndex: number;
}
