// Original file: proto/testudo.proto

import type { Member as _testudo_v1_Member, Member__Output as _testudo_v1_Member__Output } from '../../testudo/v1/Member.js';

export interface AddMemberResponse {
  'members'?: (_testudo_v1_Member)[];
  'promoted'?: (boolean);
}

export interface AddMemberResponse__Output {
  'members': (_testudo_v1_Member__Output)[];
  'promoted': (boolean);
}
