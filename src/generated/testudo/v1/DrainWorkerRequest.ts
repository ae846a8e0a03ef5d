// Original file: proto/testudo.proto


export interface DrainWorkerRequest {
  'workerId'?: (string);
  /**
   * Put a drained worker back into scheduling.
   */
  'undrain'?: (boolean);
}

export interface DrainWorkerRequest__Output {
  'workerId': (string);
  /**
   * Put a drained worker back into scheduling.
   */
  'undrain': (boolean);
}
