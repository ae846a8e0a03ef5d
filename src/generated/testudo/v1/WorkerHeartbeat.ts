// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface WorkerHeartbeat {
  'seq'?: (number | string | Long);
}

export interface WorkerHeartbeat__Output {
  'seq': (number);
}
