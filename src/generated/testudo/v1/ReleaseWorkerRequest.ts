// Original file: proto/testudo.proto


export interface ReleaseWorkerRequest {
  'workerId'?: (string);
  'reason'?: (string);
  /**
   * Disable the breaker instead (the worker is never cut off); `enable` undoes it.
   */
  'disable'?: (boolean);
  'enable'?: (boolean);
}

export interface ReleaseWorkerRequest__Output {
  'workerId': (string);
  'reason': (string);
  /**
   * Disable the breaker instead (the worker is never cut off); `enable` undoes it.
   */
  'disable': (boolean);
  'enable': (boolean);
}
