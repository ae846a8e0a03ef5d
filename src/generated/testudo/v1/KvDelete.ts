// Original file: proto/testudo.proto


export interface KvDelete {
  'key'?: (string);
}

export interface KvDelete__Output {
  'key': (string);
}
