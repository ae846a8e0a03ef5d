// Original file: proto/testudo.proto


export interface MemberStatusRequest {
}

export interface MemberStatusRequest__Output {
}
