// Original file: proto/testudo.proto


export interface DeleteRequest {
  'key'?: (string);
  'idempotencyKey'?: (string);
}

export interface DeleteRequest__Output {
  'key': (string);
  'idempotencyKey': (string);
}
