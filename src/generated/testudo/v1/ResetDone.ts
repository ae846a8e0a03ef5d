// Original file: proto/testudo.proto


/**
 * The worker finished (or failed) the reset the leader asked for.
 */
export interface ResetDone {
  'ok'?: (boolean);
  'reason'?: (string);
}

/**
 * The worker finished (or failed) the reset the leader asked for.
 */
export interface ResetDone__Output {
  'ok': (boolean);
  'reason': (string);
}
