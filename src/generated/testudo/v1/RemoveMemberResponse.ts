// Original file: proto/testudo.proto

import type { Member as _testudo_v1_Member, Member__Output as _testudo_v1_Member__Output } from '../../testudo/v1/Member.js';

export interface RemoveMemberResponse {
  'members'?: (_testudo_v1_Member)[];
}

export interface RemoveMemberResponse__Output {
  'members': (_testudo_v1_Member__Output)[];
}
