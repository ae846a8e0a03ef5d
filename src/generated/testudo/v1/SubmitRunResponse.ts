// Original file: proto/testudo.proto


export interface SubmitRunResponse {
  'runId'?: (string);
  'tasks'?: (number);
  'duplicate'?: (boolean);
}

export interface SubmitRunResponse__Output {
  'runId': (string);
  'tasks': (number);
  'duplicate': (boolean);
}
