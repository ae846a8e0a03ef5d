// Original file: proto/testudo.proto

import type { KvBatchedPut as _testudo_v1_KvBatchedPut, KvBatchedPut__Output as _testudo_v1_KvBatchedPut__Output } from '../../testudo/v1/KvBatchedPut.js';

/**
 * The writes of one PutMany call; the command's own idempotency_key is empty.
 * A coordinator built before 2026-12-05 does not know this op and refuses
 * the entry (docs/operations.md, "Rolling restart and upgrade").
 */
export interface KvPutBatch {
  'puts'?: (_testudo_v1_KvBatchedPut)[];
}

/**
 * The writes of one PutMany call; the command's own idempotency_key is empty.
 * A coordinator built before 2026-12-05 does not know this op and refuses
 * the entry (docs/operations.md, "Rolling restart and upgrade").
 */
export interface KvPutBatch__Output {
  'puts': (_testudo_v1_KvBatchedPut__Output)[];
}
