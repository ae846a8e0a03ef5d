// Original file: proto/testudo.proto


export interface NotLeader {
  'leaderId'?: (string);
  'leaderAddress'?: (string);
}

export interface NotLeader__Output {
  'leaderId': (string);
  'leaderAddress': (string);
}
