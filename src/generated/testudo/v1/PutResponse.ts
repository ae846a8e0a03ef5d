// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface PutResponse {
  /**
   * Log index at which the write was committed and applied.
   */
  'index'?: (number | string | Long);
  'duplicate'?: (boolean);
}

export interface PutResponse__Output {
  /**
   * Log index at which the write was committed and applied.
   */
  'index': (number);
  'duplicate': (boolean);
}
