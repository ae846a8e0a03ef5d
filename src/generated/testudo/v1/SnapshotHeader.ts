// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface SnapshotHeader {
  'clusterId'?: (string);
  /**
   * The applied index the state reflects.
   */
  'index'?: (number | string | Long);
  /**
   * The serving node's term when it took the copy.
   */
  'term'?: (number | string | Long);
  'dataBytes'?: (number | string | Long);
  /**
   * SHA-256 (hex) of the whole data, for the client to check.
   */
  'dataSha256'?: (string);
  'servedBy'?: (string);
  'leaderId'?: (string);
  'savedAtMs'?: (number | string | Long);
}

export interface SnapshotHeader__Output {
  'clusterId': (string);
  /**
   * The applied index the state reflects.
   */
  'index': (number);
  /**
   * The serving node's term when it took the copy.
   */
  'term': (number);
  'dataBytes': (number);
  /**
   * SHA-256 (hex) of the whole data, for the client to check.
   */
  'dataSha256': (string);
  'servedBy': (string);
  'leaderId': (string);
  'savedAtMs': (number);
}
