// Original file: proto/testudo.proto

import type { PutManyResult as _testudo_v1_PutManyResult, PutManyResult__Output as _testudo_v1_PutManyResult__Output } from '../../testudo/v1/PutManyResult.js';

export interface PutManyResponse {
  'results'?: (_testudo_v1_PutManyResult)[];
}

export interface PutManyResponse__Output {
  'results': (_testudo_v1_PutManyResult__Output)[];
}
