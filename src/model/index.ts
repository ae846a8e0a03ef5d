export { flakinessKey, spawnRetriesMax, testId } from './types.js';
export { workerRecord } from './worker-record.js';
export { attemptIdOf, parseAttemptId, taskIdOf } from './ids.js';
export {
  decodeFaultRecord,
  encodeFaultRecord,
  faultRecordBytesMax,
  faultRecordKey,
  faultRecordPrefix,
  faultRecordsKeptMax,
  faultRecordTargetsMax,
  FaultRecordDecodeError,
} from './fault-record.js';
export type { FaultRecord } from './fault-record.js';
export type { WorkerRecord, WorkerService, WorkerServiceView } from './worker-record.js';
export type { AttemptIdParts } from './ids.js';
export type { WorkerMessage, WorkerMessageReceived, WorkerHello, CoordinatorMessage, CoordinatorMessageReceived } from './session.js';

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
  AttemptOrder,
  AttemptResult,
  AttemptView,
  TaskView,
  DecisionView,
  RunCounts,
  LiveTaskView,
  RunSummary,
  RunView,
  WorkerState,
  WorkerView,
  FollowerProgress,
  FlakinessRecord,
  RunWorker,
} from './types.js';
