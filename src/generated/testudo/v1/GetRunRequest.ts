// Original file: proto/testudo.proto


export interface GetRunRequest {
  'runId'?: (string);
  'stale'?: (boolean);
}

export interface GetRunRequest__Output {
  'runId': (string);
  'stale': (boolean);
}
