// Original file: proto/testudo.proto


export interface ListRunsRequest {
  'stale'?: (boolean);
}

export interface ListRunsRequest__Output {
  'stale': (boolean);
}
