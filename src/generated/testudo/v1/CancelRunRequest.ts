// Original file: proto/testudo.proto


export interface CancelRunRequest {
  'runId'?: (string);
  'reason'?: (string);
}

export interface CancelRunRequest__Output {
  'runId': (string);
  'reason': (string);
}
