// The `testudo` package's library entry: the client, the run spec loader,
// the types a program needs to submit runs and follow them, and the reports
// (docs/client.md). Coordinators, workers, Raft and the chaos module are run
// through the `testudo` command, not imported: what is not named here is not
// a public API.

export { TestudoClient } from './client/index.js';
export {
  TestudoError,
  NotLeaderError,
  NoLeaderError,
  LeadershipLostError,
  ProposalDroppedError,
  InvalidArgumentError,
  NotFoundError,
  OverloadedError,
  MessageTooLargeError,
  UnavailableError,
  ForwardLostError,
  DeadlineExceededError,
  RetriesExhaustedError,
  ClientClosedError,
  AuthRefusedError,
} from './client/index.js';
export { loadSpec, parseSpecText, expandSpec, SpecError, SpecValidationError } from './spec/index.js';
export { testudoVersion } from './common/version.js';
export { writeReports } from './report/write-reports.js';
export { compareRuns } from './report/compare.js';

export type {
  TestudoClientOptions,
  RetryOptions,
  ReadOptions,
  AdminOptions,
  SubmitRunResult,
  ClusterStatus,
  MemberStatus,
  WorkerInfo,
} from './client/index.js';
export type { ParsedSpec, RunSpec, SuiteSpec, LoadSpecOptions, ExpandOptions, SpecLocation } from './spec/index.js';
export type {
  RunSubmission,
  TaskTemplate,
  Requirements,
  RunState,
  RunCounts,
  RunSummary,
  RunView,
  TaskState,
  TaskView,
  AttemptState,
  AttemptView,
  TestCaseStatus,
  TestCaseResult,
  FlakinessRecord,
  RunWorker,
} from './model/index.js';
export type { WriteReportsOptions, ReportPaths } from './report/write-reports.js';
export type { ClassnamePolicy } from './report/merge.js';
export type { RunReportJson } from './report/summary.js';
export type { RunComparison, StatusChange, DurationChange, ComparedRun, CompareOptions } from './report/compare.js';
export type { LogScheme } from './report/workers.js';
