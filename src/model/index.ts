export { flakinessKey, testId } from './types.js';

export type {
  Capabilities,
  Requirements,
  TaskTemplate,
  RunSubmission,
  TaskState,
  AttemptState,
  RunState,
  TestCaseStatus,
  TestCaseResult,
  InfraFailureClass,
  AttemptResult,
  AttemptView,
  TaskView,
  DecisionView,
  RunCounts,
  RunSummary,
  RunView,
  WorkerState,
  WorkerView,
  FollowerProgress,
} from './types.js';
