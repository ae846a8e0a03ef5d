// Original file: proto/testudo.proto


export interface ListWorkersRequest {
}

export interface ListWorkersRequest__Output {
}
