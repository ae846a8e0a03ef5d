// Original file: proto/testudo.proto

import type { RunCounts as _testudo_v1_RunCounts, RunCounts__Output as _testudo_v1_RunCounts__Output } from '../../testudo/v1/RunCounts.js';
import type { Long } from '@grpc/proto-loader';

export interface RunSummary {
  'runId'?: (string);
  'name'?: (string);
  /**
   * running | passed | failed | cancelled
   */
  'state'?: (string);
  'submittedAtMs'?: (number | string | Long);
  'finishedAtMs'?: (number | string | Long);
  'counts'?: (_testudo_v1_RunCounts | null);
  /**
   * A task was given up after infrastructure failures (recovery level 5).
   */
  'degraded'?: (boolean);
}

export interface RunSummary__Output {
  'runId': (string);
  'name': (string);
  /**
   * running | passed | failed | cancelled
   */
  'state': (string);
  'submittedAtMs': (number);
  'finishedAtMs': (number);
  'counts': (_testudo_v1_RunCounts__Output | null);
  /**
   * A task was given up after infrastructure failures (recovery level 5).
   */
  'degraded': (boolean);
}
