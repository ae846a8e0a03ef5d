// Original file: proto/testudo.proto

import type { KeyValue as _testudo_v1_KeyValue, KeyValue__Output as _testudo_v1_KeyValue__Output } from '../../testudo/v1/KeyValue.js';
import type { Long } from '@grpc/proto-loader';

export interface ListResponse {
  'items'?: (_testudo_v1_KeyValue)[];
  /**
   * More keys match after the last one returned.
   */
  'more'?: (boolean);
  'appliedIndex'?: (number | string | Long);
  'servedBy'?: (string);
}

export interface ListResponse__Output {
  'items': (_testudo_v1_KeyValue__Output)[];
  /**
   * More keys match after the last one returned.
   */
  'more': (boolean);
  'appliedIndex': (number);
  'servedBy': (string);
}
