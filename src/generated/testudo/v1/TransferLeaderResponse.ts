// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface TransferLeaderResponse {
  'leaderId'?: (string);
  'term'?: (number | string | Long);
}

export interface TransferLeaderResponse__Output {
  'leaderId': (string);
  'term': (number);
}
