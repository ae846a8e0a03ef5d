// Original file: proto/testudo.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BreakerConfigRequest as _testudo_v1_BreakerConfigRequest, BreakerConfigRequest__Output as _testudo_v1_BreakerConfigRequest__Output } from '../../testudo/v1/BreakerConfigRequest.js';
import type { BreakerConfigResponse as _testudo_v1_BreakerConfigResponse, BreakerConfigResponse__Output as _testudo_v1_BreakerConfigResponse__Output } from '../../testudo/v1/BreakerConfigResponse.js';
import type { CancelRunRequest as _testudo_v1_CancelRunRequest, CancelRunRequest__Output as _testudo_v1_CancelRunRequest__Output } from '../../testudo/v1/CancelRunRequest.js';
import type { CancelRunResponse as _testudo_v1_CancelRunResponse, CancelRunResponse__Output as _testudo_v1_CancelRunResponse__Output } from '../../testudo/v1/CancelRunResponse.js';
import type { DrainWorkerRequest as _testudo_v1_DrainWorkerRequest, DrainWorkerRequest__Output as _testudo_v1_DrainWorkerRequest__Output } from '../../testudo/v1/DrainWorkerRequest.js';
import type { DrainWorkerResponse as _testudo_v1_DrainWorkerResponse, DrainWorkerResponse__Output as _testudo_v1_DrainWorkerResponse__Output } from '../../testudo/v1/DrainWorkerResponse.js';
import type { ForgetWorkerRequest as _testudo_v1_ForgetWorkerRequest, ForgetWorkerRequest__Output as _testudo_v1_ForgetWorkerRequest__Output } from '../../testudo/v1/ForgetWorkerRequest.js';
import type { ForgetWorkerResponse as _testudo_v1_ForgetWorkerResponse, ForgetWorkerResponse__Output as _testudo_v1_ForgetWorkerResponse__Output } from '../../testudo/v1/ForgetWorkerResponse.js';
import type { GetRunRequest as _testudo_v1_GetRunRequest, GetRunRequest__Output as _testudo_v1_GetRunRequest__Output } from '../../testudo/v1/GetRunRequest.js';
import type { GetRunResponse as _testudo_v1_GetRunResponse, GetRunResponse__Output as _testudo_v1_GetRunResponse__Output } from '../../testudo/v1/GetRunResponse.js';
import type { ListRunsRequest as _testudo_v1_ListRunsRequest, ListRunsRequest__Output as _testudo_v1_ListRunsRequest__Output } from '../../testudo/v1/ListRunsRequest.js';
import type { ListRunsResponse as _testudo_v1_ListRunsResponse, ListRunsResponse__Output as _testudo_v1_ListRunsResponse__Output } from '../../testudo/v1/ListRunsResponse.js';
import type { ListWorkersRequest as _testudo_v1_ListWorkersRequest, ListWorkersRequest__Output as _testudo_v1_ListWorkersRequest__Output } from '../../testudo/v1/ListWorkersRequest.js';
import type { ListWorkersResponse as _testudo_v1_ListWorkersResponse, ListWorkersResponse__Output as _testudo_v1_ListWorkersResponse__Output } from '../../testudo/v1/ListWorkersResponse.js';
import type { ReleaseWorkerRequest as _testudo_v1_ReleaseWorkerRequest, ReleaseWorkerRequest__Output as _testudo_v1_ReleaseWorkerRequest__Output } from '../../testudo/v1/ReleaseWorkerRequest.js';
import type { ReleaseWorkerResponse as _testudo_v1_ReleaseWorkerResponse, ReleaseWorkerResponse__Output as _testudo_v1_ReleaseWorkerResponse__Output } from '../../testudo/v1/ReleaseWorkerResponse.js';
import type { RunProgress as _testudo_v1_RunProgress, RunProgress__Output as _testudo_v1_RunProgress__Output } from '../../testudo/v1/RunProgress.js';
import type { SubmitRunRequest as _testudo_v1_SubmitRunRequest, SubmitRunRequest__Output as _testudo_v1_SubmitRunRequest__Output } from '../../testudo/v1/SubmitRunRequest.js';
import type { SubmitRunResponse as _testudo_v1_SubmitRunResponse, SubmitRunResponse__Output as _testudo_v1_SubmitRunResponse__Output } from '../../testudo/v1/SubmitRunResponse.js';
import type { WatchRunRequest as _testudo_v1_WatchRunRequest, WatchRunRequest__Output as _testudo_v1_WatchRunRequest__Output } from '../../testudo/v1/WatchRunRequest.js';

export interface RunsClient extends grpc.Client {
  /**
   * Reads the cluster's circuit-breaker settings, or changes some of them
   * (replicated: every coordinator applies the same; docs/recovery.md).
   */
  BreakerConfig(argument: _testudo_v1_BreakerConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  BreakerConfig(argument: _testudo_v1_BreakerConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  BreakerConfig(argument: _testudo_v1_BreakerConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  BreakerConfig(argument: _testudo_v1_BreakerConfigRequest, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Reads the cluster's circuit-breaker settings, or changes some of them
   * (replicated: every coordinator applies the same; docs/recovery.md).
   */
  breakerConfig(argument: _testudo_v1_BreakerConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  breakerConfig(argument: _testudo_v1_BreakerConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  breakerConfig(argument: _testudo_v1_BreakerConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  breakerConfig(argument: _testudo_v1_BreakerConfigRequest, callback: grpc.requestCallback<_testudo_v1_BreakerConfigResponse__Output>): grpc.ClientUnaryCall;
  
  CancelRun(argument: _testudo_v1_CancelRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  CancelRun(argument: _testudo_v1_CancelRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  CancelRun(argument: _testudo_v1_CancelRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  CancelRun(argument: _testudo_v1_CancelRunRequest, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  cancelRun(argument: _testudo_v1_CancelRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  cancelRun(argument: _testudo_v1_CancelRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  cancelRun(argument: _testudo_v1_CancelRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  cancelRun(argument: _testudo_v1_CancelRunRequest, callback: grpc.requestCallback<_testudo_v1_CancelRunResponse__Output>): grpc.ClientUnaryCall;
  
  DrainWorker(argument: _testudo_v1_DrainWorkerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  DrainWorker(argument: _testudo_v1_DrainWorkerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  DrainWorker(argument: _testudo_v1_DrainWorkerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  DrainWorker(argument: _testudo_v1_DrainWorkerRequest, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  drainWorker(argument: _testudo_v1_DrainWorkerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  drainWorker(argument: _testudo_v1_DrainWorkerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  drainWorker(argument: _testudo_v1_DrainWorkerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  drainWorker(argument: _testudo_v1_DrainWorkerRequest, callback: grpc.requestCallback<_testudo_v1_DrainWorkerResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Releases a worker id from the session key it is bound to, so that a
   * rebuilt machine can register under it with a new key. Admin only; the
   * worker must have been declared lost (docs/security.md, "Worker identity").
   */
  ForgetWorker(argument: _testudo_v1_ForgetWorkerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  ForgetWorker(argument: _testudo_v1_ForgetWorkerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  ForgetWorker(argument: _testudo_v1_ForgetWorkerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  ForgetWorker(argument: _testudo_v1_ForgetWorkerRequest, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Releases a worker id from the session key it is bound to, so that a
   * rebuilt machine can register under it with a new key. Admin only; the
   * worker must have been declared lost (docs/security.md, "Worker identity").
   */
  forgetWorker(argument: _testudo_v1_ForgetWorkerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  forgetWorker(argument: _testudo_v1_ForgetWorkerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  forgetWorker(argument: _testudo_v1_ForgetWorkerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  forgetWorker(argument: _testudo_v1_ForgetWorkerRequest, callback: grpc.requestCallback<_testudo_v1_ForgetWorkerResponse__Output>): grpc.ClientUnaryCall;
  
  GetRun(argument: _testudo_v1_GetRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _testudo_v1_GetRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _testudo_v1_GetRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  GetRun(argument: _testudo_v1_GetRunRequest, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  getRun(argument: _testudo_v1_GetRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  getRun(argument: _testudo_v1_GetRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  getRun(argument: _testudo_v1_GetRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  getRun(argument: _testudo_v1_GetRunRequest, callback: grpc.requestCallback<_testudo_v1_GetRunResponse__Output>): grpc.ClientUnaryCall;
  
  ListRuns(argument: _testudo_v1_ListRunsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  ListRuns(argument: _testudo_v1_ListRunsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  ListRuns(argument: _testudo_v1_ListRunsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  ListRuns(argument: _testudo_v1_ListRunsRequest, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _testudo_v1_ListRunsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _testudo_v1_ListRunsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _testudo_v1_ListRunsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  listRuns(argument: _testudo_v1_ListRunsRequest, callback: grpc.requestCallback<_testudo_v1_ListRunsResponse__Output>): grpc.ClientUnaryCall;
  
  ListWorkers(argument: _testudo_v1_ListWorkersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  ListWorkers(argument: _testudo_v1_ListWorkersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  ListWorkers(argument: _testudo_v1_ListWorkersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  ListWorkers(argument: _testudo_v1_ListWorkersRequest, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  listWorkers(argument: _testudo_v1_ListWorkersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  listWorkers(argument: _testudo_v1_ListWorkersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  listWorkers(argument: _testudo_v1_ListWorkersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  listWorkers(argument: _testudo_v1_ListWorkersRequest, callback: grpc.requestCallback<_testudo_v1_ListWorkersResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Closes a worker's circuit breaker: releases a quarantined (forced-open)
   * or open worker, or re-enables a disabled breaker (see docs/recovery.md).
   */
  ReleaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  ReleaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  ReleaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  ReleaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Closes a worker's circuit breaker: releases a quarantined (forced-open)
   * or open worker, or re-enables a disabled breaker (see docs/recovery.md).
   */
  releaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  releaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  releaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  releaseWorker(argument: _testudo_v1_ReleaseWorkerRequest, callback: grpc.requestCallback<_testudo_v1_ReleaseWorkerResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Submits a run. The client picks `run_id`; submitting the same id again
   * answers `duplicate` instead of starting a second run (safe to retry).
   */
  SubmitRun(argument: _testudo_v1_SubmitRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  SubmitRun(argument: _testudo_v1_SubmitRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  SubmitRun(argument: _testudo_v1_SubmitRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  SubmitRun(argument: _testudo_v1_SubmitRunRequest, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Submits a run. The client picks `run_id`; submitting the same id again
   * answers `duplicate` instead of starting a second run (safe to retry).
   */
  submitRun(argument: _testudo_v1_SubmitRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  submitRun(argument: _testudo_v1_SubmitRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  submitRun(argument: _testudo_v1_SubmitRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  submitRun(argument: _testudo_v1_SubmitRunRequest, callback: grpc.requestCallback<_testudo_v1_SubmitRunResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Streams the run's summary whenever it changes, ending after the run ends.
   */
  WatchRun(argument: _testudo_v1_WatchRunRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_RunProgress__Output>;
  WatchRun(argument: _testudo_v1_WatchRunRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_RunProgress__Output>;
  /**
   * Streams the run's summary whenever it changes, ending after the run ends.
   */
  watchRun(argument: _testudo_v1_WatchRunRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_RunProgress__Output>;
  watchRun(argument: _testudo_v1_WatchRunRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_testudo_v1_RunProgress__Output>;
  
}

export interface RunsHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Reads the cluster's circuit-breaker settings, or changes some of them
   * (replicated: every coordinator applies the same; docs/recovery.md).
   */
  BreakerConfig: grpc.handleUnaryCall<_testudo_v1_BreakerConfigRequest__Output, _testudo_v1_BreakerConfigResponse>;
  
  CancelRun: grpc.handleUnaryCall<_testudo_v1_CancelRunRequest__Output, _testudo_v1_CancelRunResponse>;
  
  DrainWorker: grpc.handleUnaryCall<_testudo_v1_DrainWorkerRequest__Output, _testudo_v1_DrainWorkerResponse>;
  
  /**
   * Releases a worker id from the session key it is bound to, so that a
   * rebuilt machine can register under it with a new key. Admin only; the
   * worker must have been declared lost (docs/security.md, "Worker identity").
   */
  ForgetWorker: grpc.handleUnaryCall<_testudo_v1_ForgetWorkerRequest__Output, _testudo_v1_ForgetWorkerResponse>;
  
  GetRun: grpc.handleUnaryCall<_testudo_v1_GetRunRequest__Output, _testudo_v1_GetRunResponse>;
  
  ListRuns: grpc.handleUnaryCall<_testudo_v1_ListRunsRequest__Output, _testudo_v1_ListRunsResponse>;
  
  ListWorkers: grpc.handleUnaryCall<_testudo_v1_ListWorkersRequest__Output, _testudo_v1_ListWorkersResponse>;
  
  /**
   * Closes a worker's circuit breaker: releases a quarantined (forced-open)
   * or open worker, or re-enables a disabled breaker (see docs/recovery.md).
   */
  ReleaseWorker: grpc.handleUnaryCall<_testudo_v1_ReleaseWorkerRequest__Output, _testudo_v1_ReleaseWorkerResponse>;
  
  /**
   * Submits a run. The client picks `run_id`; submitting the same id again
   * answers `duplicate` instead of starting a second run (safe to retry).
   */
  SubmitRun: grpc.handleUnaryCall<_testudo_v1_SubmitRunRequest__Output, _testudo_v1_SubmitRunResponse>;
  
  /**
   * Streams the run's summary whenever it changes, ending after the run ends.
   */
  WatchRun: grpc.handleServerStreamingCall<_testudo_v1_WatchRunRequest__Output, _testudo_v1_RunProgress>;
  
}

export interface RunsDefinition extends grpc.ServiceDefinition {
  BreakerConfig: MethodDefinition<_testudo_v1_BreakerConfigRequest, _testudo_v1_BreakerConfigResponse, _testudo_v1_BreakerConfigRequest__Output, _testudo_v1_BreakerConfigResponse__Output>
  CancelRun: MethodDefinition<_testudo_v1_CancelRunRequest, _testudo_v1_CancelRunResponse, _testudo_v1_CancelRunRequest__Output, _testudo_v1_CancelRunResponse__Output>
  DrainWorker: MethodDefinition<_testudo_v1_DrainWorkerRequest, _testudo_v1_DrainWorkerResponse, _testudo_v1_DrainWorkerRequest__Output, _testudo_v1_DrainWorkerResponse__Output>
  ForgetWorker: MethodDefinition<_testudo_v1_ForgetWorkerRequest, _testudo_v1_ForgetWorkerResponse, _testudo_v1_ForgetWorkerRequest__Output, _testudo_v1_ForgetWorkerResponse__Output>
  GetRun: MethodDefinition<_testudo_v1_GetRunRequest, _testudo_v1_GetRunResponse, _testudo_v1_GetRunRequest__Output, _testudo_v1_GetRunResponse__Output>
  ListRuns: MethodDefinition<_testudo_v1_ListRunsRequest, _testudo_v1_ListRunsResponse, _testudo_v1_ListRunsRequest__Output, _testudo_v1_ListRunsResponse__Output>
  ListWorkers: MethodDefinition<_testudo_v1_ListWorkersRequest, _testudo_v1_ListWorkersResponse, _testudo_v1_ListWorkersRequest__Output, _testudo_v1_ListWorkersResponse__Output>
  ReleaseWorker: MethodDefinition<_testudo_v1_ReleaseWorkerRequest, _testudo_v1_ReleaseWorkerResponse, _testudo_v1_ReleaseWorkerRequest__Output, _testudo_v1_ReleaseWorkerResponse__Output>
  SubmitRun: MethodDefinition<_testudo_v1_SubmitRunRequest, _testudo_v1_SubmitRunResponse, _testudo_v1_SubmitRunRequest__Output, _testudo_v1_SubmitRunResponse__Output>
  WatchRun: MethodDefinition<_testudo_v1_WatchRunRequest, _testudo_v1_RunProgress, _testudo_v1_WatchRunRequest__Output, _testudo_v1_RunProgress__Output>
}
