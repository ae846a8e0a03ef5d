// Original file: proto/testudo.proto

import type { KeyValue as _testudo_v1_KeyValue, KeyValue__Output as _testudo_v1_KeyValue__Output } from '../../testudo/v1/KeyValue.js';
import type { Member as _testudo_v1_Member, Member__Output as _testudo_v1_Member__Output } from '../../testudo/v1/Member.js';
import type { IdempotencyRecord as _testudo_v1_IdempotencyRecord, IdempotencyRecord__Output as _testudo_v1_IdempotencyRecord__Output } from '../../testudo/v1/IdempotencyRecord.js';
import type { Long } from '@grpc/proto-loader';

/**
 * The state machine's snapshot.
 */
export interface MachineSnapshot {
  'formatVersion'?: (number);
  'appliedIndex'?: (number | string | Long);
  'items'?: (_testudo_v1_KeyValue)[];
  'members'?: (_testudo_v1_Member)[];
  /**
   * Oldest first; bounded (see idempotencyKeysMax).
   */
  'idempotency'?: (_testudo_v1_IdempotencyRecord)[];
  /**
   * The orchestrator's state (canonical JSON, raw-deflated); empty before any
   * orchestration command.
   */
  'orchestrator'?: (Buffer | Uint8Array | string);
}

/**
 * The state machine's snapshot.
 */
export interface MachineSnapshot__Output {
  'formatVersion': (number);
  'appliedIndex': (number);
  'items': (_testudo_v1_KeyValue__Output)[];
  'members': (_testudo_v1_Member__Output)[];
  /**
   * Oldest first; bounded (see idempotencyKeysMax).
   */
  'idempotency': (_testudo_v1_IdempotencyRecord__Output)[];
  /**
   * The orchestrator's state (canonical JSON, raw-deflated); empty before any
   * orchestration command.
   */
  'orchestrator': (Buffer);
}
