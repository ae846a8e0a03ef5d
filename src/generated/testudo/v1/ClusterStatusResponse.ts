// Original file: proto/testudo.proto

import type { MemberStatus as _testudo_v1_MemberStatus, MemberStatus__Output as _testudo_v1_MemberStatus__Output } from '../../testudo/v1/MemberStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface ClusterStatusResponse {
  'members'?: (_testudo_v1_MemberStatus)[];
  'leaderId'?: (string);
  'term'?: (number | string | Long);
  'servedBy'?: (string);
}

export interface ClusterStatusResponse__Output {
  'members': (_testudo_v1_MemberStatus__Output)[];
  'leaderId': (string);
  'term': (number);
  'servedBy': (string);
}
