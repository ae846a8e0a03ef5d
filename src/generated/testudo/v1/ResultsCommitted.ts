// Original file: proto/testudo.proto


export interface ResultsCommitted {
  /**
   * Committed (counted, duplicate or late alike): the worker may forget them.
   */
  'attemptIds'?: (string)[];
}

export interface ResultsCommitted__Output {
  /**
   * Committed (counted, duplicate or late alike): the worker may forget them.
   */
  'attemptIds': (string)[];
}
