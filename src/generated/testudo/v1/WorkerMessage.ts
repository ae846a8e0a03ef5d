// Original file: proto/testudo.proto

import type { WorkerHello as _testudo_v1_WorkerHello, WorkerHello__Output as _testudo_v1_WorkerHello__Output } from '../../testudo/v1/WorkerHello.js';
import type { WorkerHeartbeat as _testudo_v1_WorkerHeartbeat, WorkerHeartbeat__Output as _testudo_v1_WorkerHeartbeat__Output } from '../../testudo/v1/WorkerHeartbeat.js';
import type { WorkerResults as _testudo_v1_WorkerResults, WorkerResults__Output as _testudo_v1_WorkerResults__Output } from '../../testudo/v1/WorkerResults.js';
import type { ResetDone as _testudo_v1_ResetDone, ResetDone__Output as _testudo_v1_ResetDone__Output } from '../../testudo/v1/ResetDone.js';

export interface WorkerMessage {
  'hello'?: (_testudo_v1_WorkerHello | null);
  'heartbeat'?: (_testudo_v1_WorkerHeartbeat | null);
  'results'?: (_testudo_v1_WorkerResults | null);
  'resetDone'?: (_testudo_v1_ResetDone | null);
  'body'?: "hello"|"heartbeat"|"results"|"resetDone";
}

export interface WorkerMessage__Output {
  'hello'?: (_testudo_v1_WorkerHello__Output | null);
  'heartbeat'?: (_testudo_v1_WorkerHeartbeat__Output | null);
  'results'?: (_testudo_v1_WorkerResults__Output | null);
  'resetDone'?: (_testudo_v1_ResetDone__Output | null);
  'body'?: "hello"|"heartbeat"|"results"|"resetDone";
}
