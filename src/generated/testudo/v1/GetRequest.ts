// Original file: proto/testudo.proto


export interface GetRequest {
  'key'?: (string);
  /**
   * false (default): linearizable, through ReadIndex. true: this node's state,
   * which may lag the leader.
   */
  'stale'?: (boolean);
}

export interface GetRequest__Output {
  'key': (string);
  /**
   * false (default): linearizable, through ReadIndex. true: this node's state,
   * which may lag the leader.
   */
  'stale': (boolean);
}
