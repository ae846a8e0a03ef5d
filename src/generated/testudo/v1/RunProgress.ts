// Original file: proto/testudo.proto

import type { RunSummary as _testudo_v1_RunSummary, RunSummary__Output as _testudo_v1_RunSummary__Output } from '../../testudo/v1/RunSummary.js';

export interface RunProgress {
  'summary'?: (_testudo_v1_RunSummary | null);
  /**
   * The coordinator that serves this stream.
   */
  'servedBy'?: (string);
}

export interface RunProgress__Output {
  'summary': (_testudo_v1_RunSummary__Output | null);
  /**
   * The coordinator that serves this stream.
   */
  'servedBy': (string);
}
