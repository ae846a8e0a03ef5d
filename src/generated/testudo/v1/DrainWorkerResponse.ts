// Original file: proto/testudo.proto


export interface DrainWorkerResponse {
  'state'?: (string);
}

export interface DrainWorkerResponse__Output {
  'state': (string);
}
