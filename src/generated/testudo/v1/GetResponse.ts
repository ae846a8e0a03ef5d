// Original file: proto/testudo.proto

import type { KeyValue as _testudo_v1_KeyValue, KeyValue__Output as _testudo_v1_KeyValue__Output } from '../../testudo/v1/KeyValue.js';
import type { Long } from '@grpc/proto-loader';

export interface GetResponse {
  'found'?: (boolean);
  'item'?: (_testudo_v1_KeyValue | null);
  /**
   * The node's applied index when the read was served.
   */
  'appliedIndex'?: (number | string | Long);
  'servedBy'?: (string);
}

export interface GetResponse__Output {
  'found': (boolean);
  'item': (_testudo_v1_KeyValue__Output | null);
  /**
   * The node's applied index when the read was served.
   */
  'appliedIndex': (number);
  'servedBy': (string);
}
