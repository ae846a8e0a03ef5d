export { TestudoClient } from './client.js';
export { CLIENT_DEFAULTS, listLimitMax, messageBytesMaxLimit, clientIdLengthMax } from './args.js';
export { channelsMax } from './connection.js';
export { RETRY_DEFAULTS, retryAttemptsMaxLimit } from './retry.js';
export { endpointsMax } from './endpoints.js';
export { AddressRoutes, routesMax } from './routes.js';
export { clientTlsCredentials, TlsMaterialError } from '../security/tls.js';
export {
  TestudoError,
  NotLeaderError,
  NoLeaderError,
  LeadershipLostError,
  ProposalDroppedError,
  InvalidArgumentError,
  NotFoundError,
  ConfChangeRefusedError,
  OverloadedError,
  MessageTooLargeError,
  UnavailableError,
  ForwardLostError,
  DeadlineExceededError,
  RetriesExhaustedError,
  ClientClosedError,
  AuthRefusedError,
  ERROR_KEY,
  RETRYABLE_KEY,
  LEADER_ID_KEY,
  LEADER_ADDRESS_KEY,
} from './errors.js';

export type { RetryOptions, CallKind } from './retry.js';
export type { TestudoErrorFields } from './errors.js';
export type {
  TestudoClientOptions,
  WriteOptions,
  ReadOptions,
  ListOptions,
  ListAllOptions,
  AdminOptions,
  PutResult,
  DeleteResult,
  KeyValue,
  GetResult,
  ListResult,
  Member,
  MemberStatus,
  ClusterStatus,
  TransferLeaderResult,
  AddMemberRequest,
  AddMemberResult,
  RemoveMemberResult,
  RepairMemberResult,
  SavedSnapshot,
  FollowerProgress,
  SubmitRunResult,
  WorkerInfo,
} from './types.js';
