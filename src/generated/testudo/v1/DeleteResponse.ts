// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface DeleteResponse {
  'index'?: (number | string | Long);
  'duplicate'?: (boolean);
  'existed'?: (boolean);
}

export interface DeleteResponse__Output {
  'index': (number);
  'duplicate': (boolean);
  'existed': (boolean);
}
