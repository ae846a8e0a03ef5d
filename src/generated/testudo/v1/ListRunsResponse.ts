// Original file: proto/testudo.proto

import type { RunSummary as _testudo_v1_RunSummary, RunSummary__Output as _testudo_v1_RunSummary__Output } from '../../testudo/v1/RunSummary.js';

export interface ListRunsResponse {
  'runs'?: (_testudo_v1_RunSummary)[];
}

export interface ListRunsResponse__Output {
  'runs': (_testudo_v1_RunSummary__Output)[];
}
