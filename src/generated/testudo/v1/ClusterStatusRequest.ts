// Original file: proto/testudo.proto


export interface ClusterStatusRequest {
}

export interface ClusterStatusRequest__Output {
}
