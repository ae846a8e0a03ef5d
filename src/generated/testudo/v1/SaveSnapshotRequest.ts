// Original file: proto/testudo.proto


export interface SaveSnapshotRequest {
}

export interface SaveSnapshotRequest__Output {
}
