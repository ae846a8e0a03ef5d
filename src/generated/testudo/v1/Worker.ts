// Original file: proto/testudo.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CoordinatorMessage as _testudo_v1_CoordinatorMessage, CoordinatorMessage__Output as _testudo_v1_CoordinatorMessage__Output } from '../../testudo/v1/CoordinatorMessage.js';
import type { WorkerMessage as _testudo_v1_WorkerMessage, WorkerMessage__Output as _testudo_v1_WorkerMessage__Output } from '../../testudo/v1/WorkerMessage.js';

export interface WorkerClient extends grpc.Client {
  /**
   * One session per worker, with the leader. A follower answers with
   * `not_leader` and ends the stream.
   */
  Session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_testudo_v1_WorkerMessage, _testudo_v1_CoordinatorMessage__Output>;
  Session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_testudo_v1_WorkerMessage, _testudo_v1_CoordinatorMessage__Output>;
  /**
   * One session per worker, with the leader. A follower answers with
   * `not_leader` and ends the stream.
   */
  session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_testudo_v1_WorkerMessage, _testudo_v1_CoordinatorMessage__Output>;
  session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_testudo_v1_WorkerMessage, _testudo_v1_CoordinatorMessage__Output>;
  
}

export interface WorkerHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One session per worker, with the leader. A follower answers with
   * `not_leader` and ends the stream.
   */
  Session: grpc.handleBidiStreamingCall<_testudo_v1_WorkerMessage__Output, _testudo_v1_CoordinatorMessage>;
  
}

export interface WorkerDefinition extends grpc.ServiceDefinition {
  Session: MethodDefinition<_testudo_v1_WorkerMessage, _testudo_v1_CoordinatorMessage, _testudo_v1_WorkerMessage__Output, _testudo_v1_CoordinatorMessage__Output>
}
