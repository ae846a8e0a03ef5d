// Original file: proto/testudo.proto


export interface KvPut {
  'key'?: (string);
  'value'?: (Buffer | Uint8Array | string);
}

export interface KvPut__Output {
  'key': (string);
  'value': (Buffer);
}
