import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AddMemberRequest as _testudo_v1_AddMemberRequest, AddMemberRequest__Output as _testudo_v1_AddMemberRequest__Output } from './testudo/v1/AddMemberRequest.js';
import type { AddMemberResponse as _testudo_v1_AddMemberResponse, AddMemberResponse__Output as _testudo_v1_AddMemberResponse__Output } from './testudo/v1/AddMemberResponse.js';
import type { AssignAttempts as _testudo_v1_AssignAttempts, AssignAttempts__Output as _testudo_v1_AssignAttempts__Output } from './testudo/v1/AssignAttempts.js';
import type { BreakerConfigRequest as _testudo_v1_BreakerConfigRequest, BreakerConfigRequest__Output as _testudo_v1_BreakerConfigRequest__Output } from './testudo/v1/BreakerConfigRequest.js';
import type { BreakerConfigResponse as _testudo_v1_BreakerConfigResponse, BreakerConfigResponse__Output as _testudo_v1_BreakerConfigResponse__Output } from './testudo/v1/BreakerConfigResponse.js';
import type { CancelAttempts as _testudo_v1_CancelAttempts, CancelAttempts__Output as _testudo_v1_CancelAttempts__Output } from './testudo/v1/CancelAttempts.js';
import type { CancelRunRequest as _testudo_v1_CancelRunRequest, CancelRunRequest__Output as _testudo_v1_CancelRunRequest__Output } from './testudo/v1/CancelRunRequest.js';
import type { CancelRunResponse as _testudo_v1_CancelRunResponse, CancelRunResponse__Output as _testudo_v1_CancelRunResponse__Output } from './testudo/v1/CancelRunResponse.js';
import type { ClusterClient as _testudo_v1_ClusterClient, ClusterDefinition as _testudo_v1_ClusterDefinition } from './testudo/v1/Cluster.js';
import type { ClusterStatusRequest as _testudo_v1_ClusterStatusRequest, ClusterStatusRequest__Output as _testudo_v1_ClusterStatusRequest__Output } from './testudo/v1/ClusterStatusRequest.js';
import type { ClusterStatusResponse as _testudo_v1_ClusterStatusResponse, ClusterStatusResponse__Output as _testudo_v1_ClusterStatusResponse__Output } from './testudo/v1/ClusterStatusResponse.js';
import type { Command as _testudo_v1_Command, Command__Output as _testudo_v1_Command__Output } from './testudo/v1/Command.js';
import type { CoordinatorMessage as _testudo_v1_CoordinatorMessage, CoordinatorMessage__Output as _testudo_v1_CoordinatorMessage__Output } from './testudo/v1/CoordinatorMessage.js';
import type { DeleteRequest as _testudo_v1_DeleteRequest, DeleteRequest__Output as _testudo_v1_DeleteRequest__Output } from './testudo/v1/DeleteRequest.js';
import type { DeleteResponse as _testudo_v1_DeleteResponse, DeleteResponse__Output as _testudo_v1_DeleteResponse__Output } from './testudo/v1/DeleteResponse.js';
import type { DrainWorkerRequest as _testudo_v1_DrainWorkerRequest, DrainWorkerRequest__Output as _testudo_v1_DrainWorkerRequest__Output } from './testudo/v1/DrainWorkerRequest.js';
import type { DrainWorkerResponse as _testudo_v1_DrainWorkerResponse, DrainWorkerResponse__Output as _testudo_v1_DrainWorkerResponse__Output } from './testudo/v1/DrainWorkerResponse.js';
import type { FollowerProgress as _testudo_v1_FollowerProgress, FollowerProgress__Output as _testudo_v1_FollowerProgress__Output } from './testudo/v1/FollowerProgress.js';
import type { ForgetWorkerRequest as _testudo_v1_ForgetWorkerRequest, ForgetWorkerRequest__Output as _testudo_v1_ForgetWorkerRequest__Output } from './testudo/v1/ForgetWorkerRequest.js';
import type { ForgetWorkerResponse as _testudo_v1_ForgetWorkerResponse, ForgetWorkerResponse__Output as _testudo_v1_ForgetWorkerResponse__Output } from './testudo/v1/ForgetWorkerResponse.js';
import type { GetRequest as _testudo_v1_GetRequest, GetRequest__Output as _testudo_v1_GetRequest__Output } from './testudo/v1/GetRequest.js';
import type { GetResponse as _testudo_v1_GetResponse, GetResponse__Output as _testudo_v1_GetResponse__Output } from './testudo/v1/GetResponse.js';
import type { GetRunRequest as _testudo_v1_GetRunRequest, GetRunRequest__Output as _testudo_v1_GetRunRequest__Output } from './testudo/v1/GetRunRequest.js';
import type { GetRunResponse as _testudo_v1_GetRunResponse, GetRunResponse__Output as _testudo_v1_GetRunResponse__Output } from './testudo/v1/GetRunResponse.js';
import type { HeartbeatAck as _testudo_v1_HeartbeatAck, HeartbeatAck__Output as _testudo_v1_HeartbeatAck__Output } from './testudo/v1/HeartbeatAck.js';
import type { IdempotencyRecord as _testudo_v1_IdempotencyRecord, IdempotencyRecord__Output as _testudo_v1_IdempotencyRecord__Output } from './testudo/v1/IdempotencyRecord.js';
import type { KeyValue as _testudo_v1_KeyValue, KeyValue__Output as _testudo_v1_KeyValue__Output } from './testudo/v1/KeyValue.js';
import type { KvClient as _testudo_v1_KvClient, KvDefinition as _testudo_v1_KvDefinition } from './testudo/v1/Kv.js';
import type { KvBatchedPut as _testudo_v1_KvBatchedPut, KvBatchedPut__Output as _testudo_v1_KvBatchedPut__Output } from './testudo/v1/KvBatchedPut.js';
import type { KvDelete as _testudo_v1_KvDelete, KvDelete__Output as _testudo_v1_KvDelete__Output } from './testudo/v1/KvDelete.js';
import type { KvPut as _testudo_v1_KvPut, KvPut__Output as _testudo_v1_KvPut__Output } from './testudo/v1/KvPut.js';
import type { KvPutBatch as _testudo_v1_KvPutBatch, KvPutBatch__Output as _testudo_v1_KvPutBatch__Output } from './testudo/v1/KvPutBatch.js';
import type { ListRequest as _testudo_v1_ListRequest, ListRequest__Output as _testudo_v1_ListRequest__Output } from './testudo/v1/ListRequest.js';
import type { ListResponse as _testudo_v1_ListResponse, ListResponse__Output as _testudo_v1_ListResponse__Output } from './testudo/v1/ListResponse.js';
import type { ListRunsRequest as _testudo_v1_ListRunsRequest, ListRunsRequest__Output as _testudo_v1_ListRunsRequest__Output } from './testudo/v1/ListRunsRequest.js';
import type { ListRunsResponse as _testudo_v1_ListRunsResponse, ListRunsResponse__Output as _testudo_v1_ListRunsResponse__Output } from './testudo/v1/ListRunsResponse.js';
import type { ListWorkersRequest as _testudo_v1_ListWorkersRequest, ListWorkersRequest__Output as _testudo_v1_ListWorkersRequest__Output } from './testudo/v1/ListWorkersRequest.js';
import type { ListWorkersResponse as _testudo_v1_ListWorkersResponse, ListWorkersResponse__Output as _testudo_v1_ListWorkersResponse__Output } from './testudo/v1/ListWorkersResponse.js';
import type { MachineSnapshot as _testudo_v1_MachineSnapshot, MachineSnapshot__Output as _testudo_v1_MachineSnapshot__Output } from './testudo/v1/MachineSnapshot.js';
import type { Member as _testudo_v1_Member, Member__Output as _testudo_v1_Member__Output } from './testudo/v1/Member.js';
import type { MemberContext as _testudo_v1_MemberContext, MemberContext__Output as _testudo_v1_MemberContext__Output } from './testudo/v1/MemberContext.js';
import type { MemberStatus as _testudo_v1_MemberStatus, MemberStatus__Output as _testudo_v1_MemberStatus__Output } from './testudo/v1/MemberStatus.js';
import type { MemberStatusRequest as _testudo_v1_MemberStatusRequest, MemberStatusRequest__Output as _testudo_v1_MemberStatusRequest__Output } from './testudo/v1/MemberStatusRequest.js';
import type { Noop as _testudo_v1_Noop, Noop__Output as _testudo_v1_Noop__Output } from './testudo/v1/Noop.js';
import type { NotLeader as _testudo_v1_NotLeader, NotLeader__Output as _testudo_v1_NotLeader__Output } from './testudo/v1/NotLeader.js';
import type { Orchestration as _testudo_v1_Orchestration, Orchestration__Output as _testudo_v1_Orchestration__Output } from './testudo/v1/Orchestration.js';
import type { PutManyRequest as _testudo_v1_PutManyRequest, PutManyRequest__Output as _testudo_v1_PutManyRequest__Output } from './testudo/v1/PutManyRequest.js';
import type { PutManyResponse as _testudo_v1_PutManyResponse, PutManyResponse__Output as _testudo_v1_PutManyResponse__Output } from './testudo/v1/PutManyResponse.js';
import type { PutManyResult as _testudo_v1_PutManyResult, PutManyResult__Output as _testudo_v1_PutManyResult__Output } from './testudo/v1/PutManyResult.js';
import type { PutRequest as _testudo_v1_PutRequest, PutRequest__Output as _testudo_v1_PutRequest__Output } from './testudo/v1/PutRequest.js';
import type { PutResponse as _testudo_v1_PutResponse, PutResponse__Output as _testudo_v1_PutResponse__Output } from './testudo/v1/PutResponse.js';
import type { ReleaseWorkerRequest as _testudo_v1_ReleaseWorkerRequest, ReleaseWorkerRequest__Output as _testudo_v1_ReleaseWorkerRequest__Output } from './testudo/v1/ReleaseWorkerRequest.js';
import type { ReleaseWorkerResponse as _testudo_v1_ReleaseWorkerResponse, ReleaseWorkerResponse__Output as _testudo_v1_ReleaseWorkerResponse__Output } from './testudo/v1/ReleaseWorkerResponse.js';
import type { RemoveMemberRequest as _testudo_v1_RemoveMemberRequest, RemoveMemberRequest__Output as _testudo_v1_RemoveMemberRequest__Output } from './testudo/v1/RemoveMemberRequest.js';
import type { RemoveMemberResponse as _testudo_v1_RemoveMemberResponse, RemoveMemberResponse__Output as _testudo_v1_RemoveMemberResponse__Output } from './testudo/v1/RemoveMemberResponse.js';
import type { RepairMemberRequest as _testudo_v1_RepairMemberRequest, RepairMemberRequest__Output as _testudo_v1_RepairMemberRequest__Output } from './testudo/v1/RepairMemberRequest.js';
import type { RepairMemberResponse as _testudo_v1_RepairMemberResponse, RepairMemberResponse__Output as _testudo_v1_RepairMemberResponse__Output } from './testudo/v1/RepairMemberResponse.js';
import type { ResetDone as _testudo_v1_ResetDone, ResetDone__Output as _testudo_v1_ResetDone__Output } from './testudo/v1/ResetDone.js';
import type { ResetWorker as _testudo_v1_ResetWorker, ResetWorker__Output as _testudo_v1_ResetWorker__Output } from './testudo/v1/ResetWorker.js';
import type { ResultsCommitted as _testudo_v1_ResultsCommitted, ResultsCommitted__Output as _testudo_v1_ResultsCommitted__Output } from './testudo/v1/ResultsCommitted.js';
import type { RunCounts as _testudo_v1_RunCounts, RunCounts__Output as _testudo_v1_RunCounts__Output } from './testudo/v1/RunCounts.js';
import type { RunProgress as _testudo_v1_RunProgress, RunProgress__Output as _testudo_v1_RunProgress__Output } from './testudo/v1/RunProgress.js';
import type { RunSummary as _testudo_v1_RunSummary, RunSummary__Output as _testudo_v1_RunSummary__Output } from './testudo/v1/RunSummary.js';
import type { RunsClient as _testudo_v1_RunsClient, RunsDefinition as _testudo_v1_RunsDefinition } from './testudo/v1/Runs.js';
import type { SaveSnapshotRequest as _testudo_v1_SaveSnapshotRequest, SaveSnapshotRequest__Output as _testudo_v1_SaveSnapshotRequest__Output } from './testudo/v1/SaveSnapshotRequest.js';
import type { SessionWelcome as _testudo_v1_SessionWelcome, SessionWelcome__Output as _testudo_v1_SessionWelcome__Output } from './testudo/v1/SessionWelcome.js';
import type { SnapshotChunk as _testudo_v1_SnapshotChunk, SnapshotChunk__Output as _testudo_v1_SnapshotChunk__Output } from './testudo/v1/SnapshotChunk.js';
import type { SnapshotHeader as _testudo_v1_SnapshotHeader, SnapshotHeader__Output as _testudo_v1_SnapshotHeader__Output } from './testudo/v1/SnapshotHeader.js';
import type { SubmitRunRequest as _testudo_v1_SubmitRunRequest, SubmitRunRequest__Output as _testudo_v1_SubmitRunRequest__Output } from './testudo/v1/SubmitRunRequest.js';
import type { SubmitRunResponse as _testudo_v1_SubmitRunResponse, SubmitRunResponse__Output as _testudo_v1_SubmitRunResponse__Output } from './testudo/v1/SubmitRunResponse.js';
import type { TransferLeaderRequest as _testudo_v1_TransferLeaderRequest, TransferLeaderRequest__Output as _testudo_v1_TransferLeaderRequest__Output } from './testudo/v1/TransferLeaderRequest.js';
import type { TransferLeaderResponse as _testudo_v1_TransferLeaderResponse, TransferLeaderResponse__Output as _testudo_v1_TransferLeaderResponse__Output } from './testudo/v1/TransferLeaderResponse.js';
import type { WatchRunRequest as _testudo_v1_WatchRunRequest, WatchRunRequest__Output as _testudo_v1_WatchRunRequest__Output } from './testudo/v1/WatchRunRequest.js';
import type { WorkerClient as _testudo_v1_WorkerClient, WorkerDefinition as _testudo_v1_WorkerDefinition } from './testudo/v1/Worker.js';
import type { WorkerHeartbeat as _testudo_v1_WorkerHeartbeat, WorkerHeartbeat__Output as _testudo_v1_WorkerHeartbeat__Output } from './testudo/v1/WorkerHeartbeat.js';
import type { WorkerHello as _testudo_v1_WorkerHello, WorkerHello__Output as _testudo_v1_WorkerHello__Output } from './testudo/v1/WorkerHello.js';
import type { WorkerInfo as _testudo_v1_WorkerInfo, WorkerInfo__Output as _testudo_v1_WorkerInfo__Output } from './testudo/v1/WorkerInfo.js';
import type { WorkerMessage as _testudo_v1_WorkerMessage, WorkerMessage__Output as _testudo_v1_WorkerMessage__Output } from './testudo/v1/WorkerMessage.js';
import type { WorkerResults as _testudo_v1_WorkerResults, WorkerResults__Output as _testudo_v1_WorkerResults__Output } from './testudo/v1/WorkerResults.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  testudo: {
    v1: {
      AddMemberRequest: MessageTypeDefinition<_testudo_v1_AddMemberRequest, _testudo_v1_AddMemberRequest__Output>
      AddMemberResponse: MessageTypeDefinition<_testudo_v1_AddMemberResponse, _testudo_v1_AddMemberResponse__Output>
      AssignAttempts: MessageTypeDefinition<_testudo_v1_AssignAttempts, _testudo_v1_AssignAttempts__Output>
      BreakerConfigRequest: MessageTypeDefinition<_testudo_v1_BreakerConfigRequest, _testudo_v1_BreakerConfigRequest__Output>
      BreakerConfigResponse: MessageTypeDefinition<_testudo_v1_BreakerConfigResponse, _testudo_v1_BreakerConfigResponse__Output>
      CancelAttempts: MessageTypeDefinition<_testudo_v1_CancelAttempts, _testudo_v1_CancelAttempts__Output>
      CancelRunRequest: MessageTypeDefinition<_testudo_v1_CancelRunRequest, _testudo_v1_CancelRunRequest__Output>
      CancelRunResponse: MessageTypeDefinition<_testudo_v1_CancelRunResponse, _testudo_v1_CancelRunResponse__Output>
      Cluster: SubtypeConstructor<typeof grpc.Client, _testudo_v1_ClusterClient> & { service: _testudo_v1_ClusterDefinition }
      ClusterStatusRequest: MessageTypeDefinition<_testudo_v1_ClusterStatusRequest, _testudo_v1_ClusterStatusRequest__Output>
      ClusterStatusResponse: MessageTypeDefinition<_testudo_v1_ClusterStatusResponse, _testudo_v1_ClusterStatusResponse__Output>
      Command: MessageTypeDefinition<_testudo_v1_Command, _testudo_v1_Command__Output>
      CoordinatorMessage: MessageTypeDefinition<_testudo_v1_CoordinatorMessage, _testudo_v1_CoordinatorMessage__Output>
      DeleteRequest: MessageTypeDefinition<_testudo_v1_DeleteRequest, _testudo_v1_DeleteRequest__Output>
      DeleteResponse: MessageTypeDefinition<_testudo_v1_DeleteResponse, _testudo_v1_DeleteResponse__Output>
      DrainWorkerRequest: MessageTypeDefinition<_testudo_v1_DrainWorkerRequest, _testudo_v1_DrainWorkerRequest__Output>
      DrainWorkerResponse: MessageTypeDefinition<_testudo_v1_DrainWorkerResponse, _testudo_v1_DrainWorkerResponse__Output>
      FollowerProgress: MessageTypeDefinition<_testudo_v1_FollowerProgress, _testudo_v1_FollowerProgress__Output>
      ForgetWorkerRequest: MessageTypeDefinition<_testudo_v1_ForgetWorkerRequest, _testudo_v1_ForgetWorkerRequest__Output>
      ForgetWorkerResponse: MessageTypeDefinition<_testudo_v1_ForgetWorkerResponse, _testudo_v1_ForgetWorkerResponse__Output>
      GetRequest: MessageTypeDefinition<_testudo_v1_GetRequest, _testudo_v1_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_testudo_v1_GetResponse, _testudo_v1_GetResponse__Output>
      GetRunRequest: MessageTypeDefinition<_testudo_v1_GetRunRequest, _testudo_v1_GetRunRequest__Output>
      GetRunResponse: MessageTypeDefinition<_testudo_v1_GetRunResponse, _testudo_v1_GetRunResponse__Output>
      HeartbeatAck: MessageTypeDefinition<_testudo_v1_HeartbeatAck, _testudo_v1_HeartbeatAck__Output>
      IdempotencyRecord: MessageTypeDefinition<_testudo_v1_IdempotencyRecord, _testudo_v1_IdempotencyRecord__Output>
      KeyValue: MessageTypeDefinition<_testudo_v1_KeyValue, _testudo_v1_KeyValue__Output>
      Kv: SubtypeConstructor<typeof grpc.Client, _testudo_v1_KvClient> & { service: _testudo_v1_KvDefinition }
      KvBatchedPut: MessageTypeDefinition<_testudo_v1_KvBatchedPut, _testudo_v1_KvBatchedPut__Output>
      KvDelete: MessageTypeDefinition<_testudo_v1_KvDelete, _testudo_v1_KvDelete__Output>
      KvPut: MessageTypeDefinition<_testudo_v1_KvPut, _testudo_v1_KvPut__Output>
      KvPutBatch: MessageTypeDefinition<_testudo_v1_KvPutBatch, _testudo_v1_KvPutBatch__Output>
      ListRequest: MessageTypeDefinition<_testudo_v1_ListRequest, _testudo_v1_ListRequest__Output>
      ListResponse: MessageTypeDefinition<_testudo_v1_ListResponse, _testudo_v1_ListResponse__Output>
      ListRunsRequest: MessageTypeDefinition<_testudo_v1_ListRunsRequest, _testudo_v1_ListRunsRequest__Output>
      ListRunsResponse: MessageTypeDefinition<_testudo_v1_ListRunsResponse, _testudo_v1_ListRunsResponse__Output>
      ListWorkersRequest: MessageTypeDefinition<_testudo_v1_ListWorkersRequest, _testudo_v1_ListWorkersRequest__Output>
      ListWorkersResponse: MessageTypeDefinition<_testudo_v1_ListWorkersResponse, _testudo_v1_ListWorkersResponse__Output>
      MachineSnapshot: MessageTypeDefinition<_testudo_v1_MachineSnapshot, _testudo_v1_MachineSnapshot__Output>
      Member: MessageTypeDefinition<_testudo_v1_Member, _testudo_v1_Member__Output>
      MemberContext: MessageTypeDefinition<_testudo_v1_MemberContext, _testudo_v1_MemberContext__Output>
      MemberStatus: MessageTypeDefinition<_testudo_v1_MemberStatus, _testudo_v1_MemberStatus__Output>
      MemberStatusRequest: MessageTypeDefinition<_testudo_v1_MemberStatusRequest, _testudo_v1_MemberStatusRequest__Output>
      Noop: MessageTypeDefinition<_testudo_v1_Noop, _testudo_v1_Noop__Output>
      NotLeader: MessageTypeDefinition<_testudo_v1_NotLeader, _testudo_v1_NotLeader__Output>
      Orchestration: MessageTypeDefinition<_testudo_v1_Orchestration, _testudo_v1_Orchestration__Output>
      PutManyRequest: MessageTypeDefinition<_testudo_v1_PutManyRequest, _testudo_v1_PutManyRequest__Output>
      PutManyResponse: MessageTypeDefinition<_testudo_v1_PutManyResponse, _testudo_v1_PutManyResponse__Output>
      PutManyResult: MessageTypeDefinition<_testudo_v1_PutManyResult, _testudo_v1_PutManyResult__Output>
      PutRequest: MessageTypeDefinition<_testudo_v1_PutRequest, _testudo_v1_PutRequest__Output>
      PutResponse: MessageTypeDefinition<_testudo_v1_PutResponse, _testudo_v1_PutResponse__Output>
      ReleaseWorkerRequest: MessageTypeDefinition<_testudo_v1_ReleaseWorkerRequest, _testudo_v1_ReleaseWorkerRequest__Output>
      ReleaseWorkerResponse: MessageTypeDefinition<_testudo_v1_ReleaseWorkerResponse, _testudo_v1_ReleaseWorkerResponse__Output>
      RemoveMemberRequest: MessageTypeDefinition<_testudo_v1_RemoveMemberRequest, _testudo_v1_RemoveMemberRequest__Output>
      RemoveMemberResponse: MessageTypeDefinition<_testudo_v1_RemoveMemberResponse, _testudo_v1_RemoveMemberResponse__Output>
      RepairMemberRequest: MessageTypeDefinition<_testudo_v1_RepairMemberRequest, _testudo_v1_RepairMemberRequest__Output>
      RepairMemberResponse: MessageTypeDefinition<_testudo_v1_RepairMemberResponse, _testudo_v1_RepairMemberResponse__Output>
      ResetDone: MessageTypeDefinition<_testudo_v1_ResetDone, _testudo_v1_ResetDone__Output>
      ResetWorker: MessageTypeDefinition<_testudo_v1_ResetWorker, _testudo_v1_ResetWorker__Output>
      ResultsCommitted: MessageTypeDefinition<_testudo_v1_ResultsCommitted, _testudo_v1_ResultsCommitted__Output>
      RunCounts: MessageTypeDefinition<_testudo_v1_RunCounts, _testudo_v1_RunCounts__Output>
      RunProgress: MessageTypeDefinition<_testudo_v1_RunProgress, _testudo_v1_RunProgress__Output>
      RunSummary: MessageTypeDefinition<_testudo_v1_RunSummary, _testudo_v1_RunSummary__Output>
      Runs: SubtypeConstructor<typeof grpc.Client, _testudo_v1_RunsClient> & { service: _testudo_v1_RunsDefinition }
      SaveSnapshotRequest: MessageTypeDefinition<_testudo_v1_SaveSnapshotRequest, _testudo_v1_SaveSnapshotRequest__Output>
      SessionWelcome: MessageTypeDefinition<_testudo_v1_SessionWelcome, _testudo_v1_SessionWelcome__Output>
      SnapshotChunk: MessageTypeDefinition<_testudo_v1_SnapshotChunk, _testudo_v1_SnapshotChunk__Output>
      SnapshotHeader: MessageTypeDefinition<_testudo_v1_SnapshotHeader, _testudo_v1_SnapshotHeader__Output>
      SubmitRunRequest: MessageTypeDefinition<_testudo_v1_SubmitRunRequest, _testudo_v1_SubmitRunRequest__Output>
      SubmitRunResponse: MessageTypeDefinition<_testudo_v1_SubmitRunResponse, _testudo_v1_SubmitRunResponse__Output>
      TransferLeaderRequest: MessageTypeDefinition<_testudo_v1_TransferLeaderRequest, _testudo_v1_TransferLeaderRequest__Output>
      TransferLeaderResponse: MessageTypeDefinition<_testudo_v1_TransferLeaderResponse, _testudo_v1_TransferLeaderResponse__Output>
      WatchRunRequest: MessageTypeDefinition<_testudo_v1_WatchRunRequest, _testudo_v1_WatchRunRequest__Output>
      Worker: SubtypeConstructor<typeof grpc.Client, _testudo_v1_WorkerClient> & { service: _testudo_v1_WorkerDefinition }
      WorkerHeartbeat: MessageTypeDefinition<_testudo_v1_WorkerHeartbeat, _testudo_v1_WorkerHeartbeat__Output>
      WorkerHello: MessageTypeDefinition<_testudo_v1_WorkerHello, _testudo_v1_WorkerHello__Output>
      WorkerInfo: MessageTypeDefinition<_testudo_v1_WorkerInfo, _testudo_v1_WorkerInfo__Output>
      WorkerMessage: MessageTypeDefinition<_testudo_v1_WorkerMessage, _testudo_v1_WorkerMessage__Output>
      WorkerResults: MessageTypeDefinition<_testudo_v1_WorkerResults, _testudo_v1_WorkerResults__Output>
    }
  }
}

