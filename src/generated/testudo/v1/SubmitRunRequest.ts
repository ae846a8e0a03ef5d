// Original file: proto/testudo.proto


export interface SubmitRunRequest {
  'runId'?: (string);
  /**
   * JSON of RunSubmission, raw-deflated.
   */
  'submission'?: (Buffer | Uint8Array | string);
}

export interface SubmitRunRequest__Output {
  'runId': (string);
  /**
   * JSON of RunSubmission, raw-deflated.
   */
  'submission': (Buffer);
}
