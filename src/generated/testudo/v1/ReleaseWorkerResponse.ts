// Original file: proto/testudo.proto


export interface ReleaseWorkerResponse {
  /**
   * The breaker's state afterwards.
   */
  'breaker'?: (string);
}

export interface ReleaseWorkerResponse__Output {
  /**
   * The breaker's state afterwards.
   */
  'breaker': (string);
}
