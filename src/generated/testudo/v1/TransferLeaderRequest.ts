// Original file: proto/testudo.proto


export interface TransferLeaderRequest {
  'to'?: (string);
}

export interface TransferLeaderRequest__Output {
  'to': (string);
}
