// Original file: proto/testudo.proto

import type { KvPut as _testudo_v1_KvPut, KvPut__Output as _testudo_v1_KvPut__Output } from '../../testudo/v1/KvPut.js';
import type { KvDelete as _testudo_v1_KvDelete, KvDelete__Output as _testudo_v1_KvDelete__Output } from '../../testudo/v1/KvDelete.js';
import type { Noop as _testudo_v1_Noop, Noop__Output as _testudo_v1_Noop__Output } from '../../testudo/v1/Noop.js';
import type { Orchestration as _testudo_v1_Orchestration, Orchestration__Output as _testudo_v1_Orchestration__Output } from '../../testudo/v1/Orchestration.js';
import type { KvPutBatch as _testudo_v1_KvPutBatch, KvPutBatch__Output as _testudo_v1_KvPutBatch__Output } from '../../testudo/v1/KvPutBatch.js';
import type { Long } from '@grpc/proto-loader';

/**
 * The payload of a normal log entry. The leader fills `proposed_at_ms` from its
 * clock when it proposes; apply never reads a clock.
 */
export interface Command {
  'idempotencyKey'?: (string);
  'proposedAtMs'?: (number | string | Long);
  'put'?: (_testudo_v1_KvPut | null);
  'delete'?: (_testudo_v1_KvDelete | null);
  'noop'?: (_testudo_v1_Noop | null);
  'orch'?: (_testudo_v1_Orchestration | null);
  'putBatch'?: (_testudo_v1_KvPutBatch | null);
  'op'?: "put"|"delete"|"noop"|"orch"|"putBatch";
}

/**
 * The payload of a normal log entry. The leader fills `proposed_at_ms` from its
 * clock when it proposes; apply never reads a clock.
 */
export interface Command__Output {
  'idempotencyKey': (string);
  'proposedAtMs': (number);
  'put'?: (_testudo_v1_KvPut__Output | null);
  'delete'?: (_testudo_v1_KvDelete__Output | null);
  'noop'?: (_testudo_v1_Noop__Output | null);
  'orch'?: (_testudo_v1_Orchestration__Output | null);
  'putBatch'?: (_testudo_v1_KvPutBatch__Output | null);
  'op'?: "put"|"delete"|"noop"|"orch"|"putBatch";
}
