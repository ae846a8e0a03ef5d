// Original file: proto/testudo.proto

import type { WorkerInfo as _testudo_v1_WorkerInfo, WorkerInfo__Output as _testudo_v1_WorkerInfo__Output } from '../../testudo/v1/WorkerInfo.js';

export interface ListWorkersResponse {
  'workers'?: (_testudo_v1_WorkerInfo)[];
}

export interface ListWorkersResponse__Output {
  'workers': (_testudo_v1_WorkerInfo__Output)[];
}
