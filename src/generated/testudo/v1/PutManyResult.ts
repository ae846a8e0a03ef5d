// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface PutManyResult {
  'index'?: (number | string | Long);
  'duplicate'?: (boolean);
  /**
   * Set when this write alone was refused (its idempotency key was first used
   * for another kind of write); the others are unaffected.
   */
  'error'?: (string);
}

export interface PutManyResult__Output {
  'index': (number);
  'duplicate': (boolean);
  /**
   * Set when this write alone was refused (its idempotency key was first used
   * for another kind of write); the others are unaffected.
   */
  'error': (string);
}
