// Original file: proto/testudo.proto


export interface ForgetWorkerRequest {
  'workerId'?: (string);
  /**
   * Why (kept in the coordinators' log and the audit line).
   */
  'reason'?: (string);
}

export interface ForgetWorkerRequest__Output {
  'workerId': (string);
  /**
   * Why (kept in the coordinators' log and the audit line).
   */
  'reason': (string);
}
