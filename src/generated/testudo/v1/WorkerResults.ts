// Original file: proto/testudo.proto


export interface WorkerResults {
  /**
   * JSON of AttemptResult each.
   */
  'results'?: (string)[];
}

export interface WorkerResults__Output {
  /**
   * JSON of AttemptResult each.
   */
  'results': (string)[];
}
