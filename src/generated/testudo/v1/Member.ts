// Original file: proto/testudo.proto


export interface Member {
  'id'?: (string);
  'address'?: (string);
  /**
   * "voter" or "learner".
   */
  'kind'?: (string);
}

export interface Member__Output {
  'id': (string);
  'address': (string);
  /**
   * "voter" or "learner".
   */
  'kind': (string);
}
