// Original file: proto/testudo.proto


export interface ForgetWorkerResponse {
  /**
   * Whether the id was bound to a session key (false: there was nothing to forget).
   */
  'wasBound'?: (boolean);
}

export interface ForgetWorkerResponse__Output {
  /**
   * Whether the id was bound to a session key (false: there was nothing to forget).
   */
  'wasBound': (boolean);
}
