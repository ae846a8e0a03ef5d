// Original file: proto/testudo.proto


export interface KvBatchedPut {
  'key'?: (string);
  'value'?: (Buffer | Uint8Array | string);
  'idempotencyKey'?: (string);
}

export interface KvBatchedPut__Output {
  'key': (string);
  'value': (Buffer);
  'idempotencyKey': (string);
}
