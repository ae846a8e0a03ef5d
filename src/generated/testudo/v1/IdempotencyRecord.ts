// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface IdempotencyRecord {
  'key'?: (string);
  'index'?: (number | string | Long);
  'existed'?: (boolean);
  /**
   * The op the key was first used for: "put", "delete", "noop" or "orch". A later
   * command reusing the key for another op is refused, not answered with a
   * result of the wrong kind.
   */
  'kind'?: (string);
}

export interface IdempotencyRecord__Output {
  'key': (string);
  'index': (number);
  'existed': (boolean);
  /**
   * The op the key was first used for: "put", "delete", "noop" or "orch". A later
   * command reusing the key for another op is refused, not answered with a
   * result of the wrong kind.
   */
  'kind': (string);
}
