// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface KeyValue {
  'key'?: (string);
  'value'?: (Buffer | Uint8Array | string);
  /**
   * Log index of the write that set this value.
   */
  'modIndex'?: (number | string | Long);
}

export interface KeyValue__Output {
  'key': (string);
  'value': (Buffer);
  /**
   * Log index of the write that set this value.
   */
  'modIndex': (number);
}
