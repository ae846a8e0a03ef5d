// Original file: proto/testudo.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AddMemberRequest as _testudo_v1_AddMemberRequest, AddMemberRequest__Output as _testudo_v1_AddMemberRequest__Output } from '../../testudo/v1/AddMemberRequest.js';
import type { AddMemberResponse as _testudo_v1_AddMemberResponse, AddMemberResponse__Output as _testudo_v1_AddMemberResponse__Output } from '../../testudo/v1/AddMemberResponse.js';
import type { ClusterStatusRequest as _testudo_v1_ClusterStatusRequest, ClusterStatusRequest__Output as _testudo_v1_ClusterStatusRequest__Output } from '../../testudo/v1/ClusterStatusRequest.js';
import type { ClusterStatusResponse as _testudo_v1_ClusterStatusResponse, ClusterStatusResponse__Output as _testudo_v1_ClusterStatusResponse__Output } from '../../testudo/v1/ClusterStatusResponse.js';
import type { MemberStatus as _testudo_v1_MemberStatus, MemberStatus__Output as _testudo_v1_MemberStatus__Output } from '../../testudo/v1/MemberStatus.js';
import type { MemberStatusRequest as _testudo_v1_MemberStatusRequest, MemberStatusRequest__Output as _testudo_v1_MemberStatusRequest__Output } from '../../testudo/v1/MemberStatusRequest.js';
import type { RemoveMemberRequest as _testudo_v1_RemoveMemberRequest, RemoveMemberRequest__Output as _testudo_v1_RemoveMemberRequest__Output } from '../../testudo/v1/RemoveMemberRequest.js';
import type { RemoveMemberResponse as _testudo_v1_RemoveMemberResponse, RemoveMemberResponse__Output as _testudo_v1_RemoveMemberResponse__Output } from '../../testudo/v1/RemoveMemberResponse.js';
import type { RepairMemberRequest as _testudo_v1_RepairMemberRequest, RepairMemberRequest__Output as _testudo_v1_RepairMemberRequest__Output } from '../../testudo/v1/RepairMemberRequest.js';
import type { RepairMemberResponse as _testudo_v1_RepairMemberResponse, RepairMemberResponse__Output as _testudo_v1_RepairMemberResponse__Output } from '../../testudo/v1/RepairMemberResponse.js';
import type { SaveSnapshotRequest as _testudo_v1_SaveSnapshotRequest, SaveSnapshotRequest__Output as _testudo_v1_SaveSnapshotRequest__Output } from '../../testudo/v1/SaveSnapshotRequest.js';
import type { SnapshotChunk as _testudo_v1_SnapshotChunk, SnapshotChunk__Output as _testudo_v1_SnapshotChunk__Output } from '../../testudo/v1/SnapshotChunk.js';
import type { TransferLeaderRequest as _testudo_v1_TransferLeaderRequest, TransferLeaderRequest__Output as _testudo_v1_TransferLeaderRequest__Output } from '../../testudo/v1/TransferLeaderRequest.js';
import type { TransferLeaderResponse as _testudo_v1_TransferLeaderResponse, TransferLeaderResponse__Output as _testudo_v1_TransferLeaderResponse__Output } from '../../testudo/v1/TransferLeaderResponse.js';

export interface ClusterClient extends grpc.Client {
  AddMember(argument: _testudo_v1_AddMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  AddMember(argument: _testudo_v1_AddMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  AddMember(argument: _testudo_v1_AddMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  AddMember(argument: _testudo_v1_AddMemberRequest, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  addMember(argument: _testudo_v1_AddMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  addMember(argument: _testudo_v1_AddMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  addMember(argument: _testudo_v1_AddMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  addMember(argument: _testudo_v1_AddMemberRequest, callback: grpc.requestCallback<_testudo_v1_AddMemberResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * This node's own status only.
   */
  MemberStatus(argument: _testudo_v1_MemberStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  MemberStatus(argument: _testudo_v1_MemberStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  MemberStatus(argument: _testudo_v1_MemberStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  MemberStatus(argument: _testudo_v1_MemberStatusRequest, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  /**
   * This node's own status only.
   */
  memberStatus(argument: _testudo_v1_MemberStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  memberStatus(argument: _testudo_v1_MemberStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  memberStatus(argument: _testudo_v1_MemberStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  memberStatus(argument: _testudo_v1_MemberStatusRequest, callback: grpc.requestCallback<_testudo_v1_MemberStatus__Output>): grpc.ClientUnaryCall;
  
  RemoveMember(argument: _testudo_v1_RemoveMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  RemoveMember(argument: _testudo_v1_RemoveMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  RemoveMember(argument: _testudo_v1_RemoveMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  RemoveMember(argument: _testudo_v1_RemoveMemberRequest, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _testudo_v1_RemoveMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _testudo_v1_RemoveMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _testudo_v1_RemoveMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  removeMember(argument: _testudo_v1_RemoveMemberRequest, callback: grpc.requestCallback<_testudo_v1_RemoveMemberResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Resets the leader's replication progress of a follower whose log went
   * back (restored from an older copy): it is probed from its real last
   * index and caught up by log or snapshot. See docs/operations.md for the
   * risk; the safe alternative is removing it and adding it back.
   */
  RepairMember(argument: _testudo_v1_RepairMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  RepairMember(argument: _testudo_v1_RepairMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  RepairMember(argument: _testudo_v1_RepairMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  RepairMember(argument: _testudo_v1_RepairMemberRequest, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Resets the leader's replication progress of a follower whose log went
   * back (restored from an older copy): it is probed from its real last
   * index and caught up by log or snapshot. See docs/operations.md for the
   * risk; the safe alternative is removing it and adding it back.
   */
  repairMember(argument: _testudo_v1_RepairMemberRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  repairMember(argument: _testudo_v1_RepairMemberRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  repairMember(argument: _testudo_v1_RepairMemberRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  repairMember(argument: _testudo_v1_RepairMemberRequest, callback: grpc.requestCallback<_testudo_v1_RepairMemberResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * A linearizable point-in-time copy of the whole replicated state (runs,
   * history, workers, breakers, kv, members), taken after a ReadIndex round
   * and streamed in chunks (`testudo snapshot save`; docs/operations.md).
   */
  SaveSnapshot(argument: _testudo_v1_SaveSnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_SnapshotChunk__Output>;
  SaveSnapshot(argument: _testudo_v1_SaveSnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_SnapshotChunk__Output>;
  /**
   * A linearizable point-in-time copy of the whole replicated state (runs,
   * history, workers, breakers, kv, members), taken after a ReadIndex round
   * and streamed in chunks (`testudo snapshot save`; docs/operations.md).
   */
  saveSnapshot(argument: _testudo_v1_SaveSnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_SnapshotChunk__Output>;
  saveSnapshot(argument: _testudo_v1_SaveSnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_SnapshotChunk__Output>;
  
  /**
   * Every member's status: the node serving the call asks each member.
   */
  Status(argument: _testudo_v1_ClusterStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _testudo_v1_ClusterStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _testudo_v1_ClusterStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _testudo_v1_ClusterStatusRequest, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every member's status: the node serving the call asks each member.
   */
  status(argument: _testudo_v1_ClusterStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _testudo_v1_ClusterStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _testudo_v1_ClusterStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _testudo_v1_ClusterStatusRequest, callback: grpc.requestCallback<_testudo_v1_ClusterStatusResponse__Output>): grpc.ClientUnaryCall;
  
  TransferLeader(argument: _testudo_v1_TransferLeaderRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  TransferLeader(argument: _testudo_v1_TransferLeaderRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  TransferLeader(argument: _testudo_v1_TransferLeaderRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  TransferLeader(argument: _testudo_v1_TransferLeaderRequest, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  transferLeader(argument: _testudo_v1_TransferLeaderRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  transferLeader(argument: _testudo_v1_TransferLeaderRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  transferLeader(argument: _testudo_v1_TransferLeaderRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  transferLeader(argument: _testudo_v1_TransferLeaderRequest, callback: grpc.requestCallback<_testudo_v1_TransferLeaderResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ClusterHandlers extends grpc.UntypedServiceImplementation {
  AddMember: grpc.handleUnaryCall<_testudo_v1_AddMemberRequest__Output, _testudo_v1_AddMemberResponse>;
  
  /**
   * This node's own status only.
   */
  MemberStatus: grpc.handleUnaryCall<_testudo_v1_MemberStatusRequest__Output, _testudo_v1_MemberStatus>;
  
  RemoveMember: grpc.handleUnaryCall<_testudo_v1_RemoveMemberRequest__Output, _testudo_v1_RemoveMemberResponse>;
  
  /**
   * Resets the leader's replication progress of a follower whose log went
   * back (restored from an older copy): it is probed from its real last
   * index and caught up by log or snapshot. See docs/operations.md for the
   * risk; the safe alternative is removing it and adding it back.
   */
  RepairMember: grpc.handleUnaryCall<_testudo_v1_RepairMemberRequest__Output, _testudo_v1_RepairMemberResponse>;
  
  /**
   * A linearizable point-in-time copy of the whole replicated state (runs,
   * history, workers, breakers, kv, members), taken after a ReadIndex round
   * and streamed in chunks (`testudo snapshot save`; docs/operations.md).
   */
  SaveSnapshot: grpc.handleServerStreamingCall<_testudo_v1_SaveSnapshotRequest__Output, _testudo_v1_SnapshotChunk>;
  
  /**
   * Every member's status: the node serving the call asks each member.
   */
  Status: grpc.handleUnaryCall<_testudo_v1_ClusterStatusRequest__Output, _testudo_v1_ClusterStatusResponse>;
  
  TransferLeader: grpc.handleUnaryCall<_testudo_v1_TransferLeaderRequest__Output, _testudo_v1_TransferLeaderResponse>;
  
}

export interface ClusterDefinition extends grpc.ServiceDefinition {
  AddMember: MethodDefinition<_testudo_v1_AddMemberRequest, _testudo_v1_AddMemberResponse, _testudo_v1_AddMemberRequest__Output, _testudo_v1_AddMemberResponse__Output>
  MemberStatus: MethodDefinition<_testudo_v1_MemberStatusRequest, _testudo_v1_MemberStatus, _testudo_v1_MemberStatusRequest__Output, _testudo_v1_MemberStatus__Output>
  RemoveMember: MethodDefinition<_testudo_v1_RemoveMemberRequest, _testudo_v1_RemoveMemberResponse, _testudo_v1_RemoveMemberRequest__Output, _testudo_v1_RemoveMemberResponse__Output>
  RepairMember: MethodDefinition<_testudo_v1_RepairMemberRequest, _testudo_v1_RepairMemberResponse, _testudo_v1_RepairMemberRequest__Output, _testudo_v1_RepairMemberResponse__Output>
  SaveSnapshot: MethodDefinition<_testudo_v1_SaveSnapshotRequest, _testudo_v1_SnapshotChunk, _testudo_v1_SaveSnapshotRequest__Output, _testudo_v1_SnapshotChunk__Output>
  Status: MethodDefinition<_testudo_v1_ClusterStatusRequest, _testudo_v1_ClusterStatusResponse, _testudo_v1_ClusterStatusRequest__Output, _testudo_v1_ClusterStatusResponse__Output>
  TransferLeader: MethodDefinition<_testudo_v1_TransferLeaderRequest, _testudo_v1_TransferLeaderResponse, _testudo_v1_TransferLeaderRequest__Output, _testudo_v1_TransferLeaderResponse__Output>
}
