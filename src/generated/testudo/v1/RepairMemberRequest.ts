// Original file: proto/testudo.proto


export interface RepairMemberRequest {
  'id'?: (string);
}

export interface RepairMemberRequest__Output {
  'id': (string);
}
