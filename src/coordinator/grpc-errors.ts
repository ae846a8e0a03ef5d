import * as grpc from '@grpc/grpc-js';
import {
  ConfChangeError,
  LeadershipTransferInProgressError,
  NodeOverloadedError,
  NodeStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  ProposalLimitError,
  ReadIndexError,
  TransferTimeoutError,
} from '../raft/index.js';
import { InvalidArgumentError } from './codec.js';

/**
 * The error protocol of proto/testudo.proto: a gRPC status plus trailing
 * metadata a client can act on. Every error a handler raises goes through
 * `toServiceError`, so the mapping lives in one place.
 */
export type TestudoErrorCode =
  | 'not-leader'
  | 'no-leader'
  | 'leadership-lost'
  | 'proposal-dropped'
  | 'too-many-requests'
  | 'invalid'
  | 'not-found'
  | 'conf-change'
  | 'timeout'
  | 'stopping'
  | 'forward-lost'
  | 'not-applied'
  | 'internal';

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly grpcCode: grpc.status;
  readonly code: TestudoErrorCode;
  readonly retryable: boolean;

  constructor(grpcCode: grpc.status, code: TestudoErrorCode, retryable: boolean, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.grpcCode = grpcCode;
    this.code = code;
    this.retryable = retryable;
  }
}

export interface LeaderHint {
  readonly leaderId: string;
  readonly leaderAddress: string;
}

export function leaderMetadata(hint: LeaderHint): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('testudo-leader-id', hint.leaderId);
  md.set('testudo-leader-address', hint.leaderAddress);
  return md;
}

/** Turns any error into the status and metadata a client sees. */
export function toServiceError(error: unknown, hint: LeaderHint): Partial<grpc.StatusObject> {
  const mapped = classify(error, hint);
  const md = leaderMetadata(hint);
  md.set('testudo-error', mapped.code);
  md.set('testudo-retryable', String(mapped.retryable));
  return { code: mapped.grpcCode, details: mapped.message, metadata: md };
}

function classify(error: unknown, hint: LeaderHint): ServiceError {
  if (error instanceof ServiceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const U = grpc.status.UNAVAILABLE;
  if (error instanceof NotLeaderError || (error instanceof ReadIndexError && error.reason === 'not-leader')) {
    return hint.leaderId === ''
      ? new ServiceError(U, 'no-leader', true, 'no leader is known; an election may be in progress', { cause: error })
      : new ServiceError(U, 'not-leader', true, `this node is not the leader; the leader is ${hint.leaderId} at ${hint.leaderAddress}`, { cause: error });
  }
  if (error instanceof ReadIndexError) {
    if (error.reason === 'timeout') return new ServiceError(U, 'timeout', true, message, { cause: error });
    return new ServiceError(U, error.reason === 'no-leader' ? 'no-leader' : 'leadership-lost', true, message, { cause: error });
  }
  if (error instanceof ProposalDroppedError) return new ServiceError(U, 'leadership-lost', true, message, { cause: error });
  if (error instanceof NodeOverloadedError || error instanceof ProposalLimitError) {
    return new ServiceError(grpc.status.RESOURCE_EXHAUSTED, 'too-many-requests', true, message, { cause: error });
  }
  if (error instanceof NodeStoppedError) return new ServiceError(U, 'stopping', true, message, { cause: error });
  if (error instanceof TransferTimeoutError) return new ServiceError(grpc.status.DEADLINE_EXCEEDED, 'timeout', true, message, { cause: error });
  if (error instanceof LeadershipTransferInProgressError) return new ServiceError(U, 'leadership-lost', true, message, { cause: error });
  if (error instanceof ConfChangeError) {
    return new ServiceError(grpc.status.FAILED_PRECONDITION, 'conf-change', error.reason === 'pending' || error.reason === 'learner-behind', message, {
      cause: error,
    });
  }
  if (error instanceof InvalidArgumentError) return new ServiceError(grpc.status.INVALID_ARGUMENT, 'invalid', false, message, { cause: error });
  return new ServiceError(grpc.status.INTERNAL, 'internal', false, `internal error: ${message}`, { cause: error });
}
