import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';

/** The trailing metadata keys of the error protocol in proto/testudo.proto. */
export const ERROR_KEY = 'testudo-error';
export const RETRYABLE_KEY = 'testudo-retryable';
export const LEADER_ID_KEY = 'testudo-leader-id';
export const LEADER_ADDRESS_KEY = 'testudo-leader-address';

export interface TestudoErrorFields {
  /** The `testudo-error` string, or a gRPC status name when the server sent none. */
  code: string;
  retryable: boolean;
  /** The gRPC status of the call, when the error came from one. */
  grpcCode?: number;
  leaderId?: string;
  leaderAddress?: string;
  /** The endpoint that answered (or failed to answer); '' for client-side errors. */
  endpoint?: string;
  cause?: unknown;
}

/** Base of every error the Testudo client raises on purpose. */
export class TestudoError extends Error {
  override readonly name: string = 'TestudoError';
  readonly code: string;
  /** True when the same request may succeed if sent again (here or elsewhere). */
  readonly retryable: boolean;
  readonly grpcCode: number | undefined;
  /** The leader the answering node knows of, or ''. */
  readonly leaderId: string;
  /** That leader's client address (host:port), or ''. */
  readonly leaderAddress: string;
  readonly endpoint: string;

  constructor(message: string, fields: TestudoErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = fields.code;
    this.retryable = fields.retryable;
    this.grpcCode = fields.grpcCode;
    this.leaderId = fields.leaderId ?? '';
    this.leaderAddress = fields.leaderAddress ?? '';
    this.endpoint = fields.endpoint ?? '';
  }
}

/** The node is not the leader; `leaderAddress` names the one it knows of, if any. */
export class NotLeaderError extends TestudoError {
  override readonly name = 'NotLeaderError';
}

/** The node knows of no leader (an election is under way). */
export class NoLeaderError extends TestudoError {
  override readonly name = 'NoLeaderError';
}

/**
 * The leader lost leadership after it took the request: the write may or may
 * not commit. Retrying with the same idempotency key is safe.
 */
export class LeadershipLostError extends TestudoError {
  override readonly name = 'LeadershipLostError';
}

/** The node dropped the proposal before it entered the log. */
export class ProposalDroppedError extends TestudoError {
  override readonly name = 'ProposalDroppedError';
}

/** The request is malformed (bad key, value too large, bad endpoint, bad option). */
export class InvalidArgumentError extends TestudoError {
  override readonly name = 'InvalidArgumentError';
}

/** The thing the request names (a member) does not exist. */
export class NotFoundError extends TestudoError {
  override readonly name = 'NotFoundError';
}

/** The cluster refused a membership change (one pending, last voter, unknown node…). */
export class ConfChangeRefusedError extends TestudoError {
  override readonly name = 'ConfChangeRefusedError';
}

/** The leader sheds load (RESOURCE_EXHAUSTED / too-many-requests): retry after a backoff. */
export class OverloadedError extends TestudoError {
  override readonly name = 'OverloadedError';
}

/** A message was larger than `messageBytesMax` on one side or the other. */
export class MessageTooLargeError extends TestudoError {
  override readonly name = 'MessageTooLargeError';
}

/**
 * The endpoint could not be reached, the connection broke during the call, or
 * the node is shutting down (testudo-error `stopping`).
 */
export class UnavailableError extends TestudoError {
  override readonly name: string = 'UnavailableError';
  /**
   * True when the request surely never reached a server (no connection, stream
   * refused), so even a non-idempotent request may be sent elsewhere.
   */
  readonly beforeSend: boolean;

  constructor(message: string, fields: TestudoErrorFields, beforeSend = false) {
    super(message, fields);
    this.beforeSend = beforeSend;
  }
}

/**
 * The node the client called forwarded the request to the leader and got no
 * answer back (the connection dropped, or the forward's deadline passed after
 * it was sent): the leader may have applied it. Retryable for a write, whose
 * idempotency key makes it apply once; never resent for an admin change
 * (testudo-error `forward-lost`, docs/protocol.md).
 */
export class ForwardLostError extends UnavailableError {
  override readonly name = 'ForwardLostError';

  constructor(message: string, fields: TestudoErrorFields) {
    super(message, fields, false);
  }
}

/**
 * A deadline passed: one call's (`callTimeoutMs`), the whole operation's
 * (`totalTimeoutMs`), or the server's own wait (code `timeout`). The outcome of
 * a write is unknown; only an idempotent request may be sent again.
 */
export class DeadlineExceededError extends TestudoError {
  override readonly name = 'DeadlineExceededError';
}

/** Every allowed attempt failed with a retryable error; `cause` is the last one. */
export class RetriesExhaustedError extends TestudoError {
  override readonly name = 'RetriesExhaustedError';
  readonly attempts: number;

  constructor(attempts: number, last: TestudoError) {
    super(`gave up after ${attempts} attempts; last error: ${last.message}`, {
      code: last.code,
      retryable: true,
      grpcCode: last.grpcCode,
      leaderId: last.leaderId,
      leaderAddress: last.leaderAddress,
      endpoint: last.endpoint,
      cause: last,
    });
    this.attempts = attempts;
  }
}

/**
 * The cluster refused the caller: no token or one it does not accept
 * (UNAUTHENTICATED), or a token whose role may not do this (PERMISSION_DENIED).
 * Never retryable: the same call fails the same way until the token changes.
 */
export class AuthRefusedError extends TestudoError {
  override readonly name = 'AuthRefusedError';
}

/** The client was closed before or while the call ran. */
export class ClientClosedError extends TestudoError {
  override readonly name = 'ClientClosedError';

  constructor(cause?: unknown) {
    super('the Testudo client is closed', { code: 'CANCELLED', retryable: false, cause });
  }
}

/** What a failed unary call gives back: grpc-js's ServiceError has these fields. */
export interface CallStatus {
  code: number;
  details: string;
  metadata: Metadata;
}

type ErrorClass = new (message: string, fields: TestudoErrorFields) => TestudoError;

/** `testudo-error` → class and whether it is retryable when the server does not say. */
const BY_TESTUDO_CODE: ReadonlyMap<string, readonly [ErrorClass, boolean]> = new Map<string, readonly [ErrorClass, boolean]>([
  ['not-leader', [NotLeaderError, true]],
  ['no-leader', [NoLeaderError, true]],
  ['leadership-lost', [LeadershipLostError, true]],
  ['proposal-dropped', [ProposalDroppedError, true]],
  ['too-many-requests', [OverloadedError, true]],
  ['invalid', [InvalidArgumentError, false]],
  ['not-found', [NotFoundError, false]],
  ['conf-change', [ConfChangeRefusedError, false]],
  ['timeout', [DeadlineExceededError, true]],
  ['stopping', [UnavailableError, true]],
  ['forward-lost', [ForwardLostError, true]],
  ['not-applied', [TestudoError, false]],
]);

/**
 * grpc-js details that mean the request never left this process or was
 * refused before the server saw it (HTTP/2 REFUSED_STREAM). Anything else —
 * "Connection dropped", ECONNRESET — may have reached the server.
 */
const NOT_SENT_DETAILS = ['No connection established', 'Stream refused by server', 'Channel closed before call started'];

/** True when a failed call's gRPC details prove the request never reached the server (see NOT_SENT_DETAILS). */
export function surelyNotSent(grpcCode: number, details: string): boolean {
  return grpcCode === GrpcStatus.UNAVAILABLE && NOT_SENT_DETAILS.some((prefix) => details.startsWith(prefix));
}

export function metadataString(metadata: Metadata, key: string): string {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/** Classify a failed call by its trailing metadata first, its gRPC status second. */
export function errorFromStatus(status: CallStatus, endpoint: string): TestudoError {
  const testudoCode = metadataString(status.metadata, ERROR_KEY);
  const retryableText = metadataString(status.metadata, RETRYABLE_KEY);
  const statusName = GrpcStatus[status.code] ?? `STATUS_${status.code}`;
  const fields: TestudoErrorFields = {
    code: testudoCode === '' ? statusName : testudoCode,
    retryable: false,
    grpcCode: status.code,
    leaderId: metadataString(status.metadata, LEADER_ID_KEY),
    leaderAddress: metadataString(status.metadata, LEADER_ADDRESS_KEY),
    endpoint,
  };
  const message = `${endpoint}: ${fields.code}: ${status.details}`;
  if (testudoCode !== '') {
    const known = BY_TESTUDO_CODE.get(testudoCode);
    fields.retryable = retryableText === '' ? (known?.[1] ?? false) : retryableText === 'true';
    return new (known?.[0] ?? TestudoError)(message, fields);
  }
  switch (status.code) {
    case GrpcStatus.UNAVAILABLE: {
      fields.retryable = true;
      return new UnavailableError(message, fields, surelyNotSent(status.code, status.details));
    }
    case GrpcStatus.CANCELLED:
      // The client cancels only calls it gives up on (and then reports its own
      // error); a CANCELLED it receives is a server dropping the call, as a
      // coordinator that stops does with its calls in flight: like a dropped
      // connection, retryable, but the request may have been applied.
      fields.retryable = true;
      return new UnavailableError(message, fields, false);
    case GrpcStatus.DEADLINE_EXCEEDED:
      fields.retryable = true;
      return new DeadlineExceededError(message, fields);
    case GrpcStatus.RESOURCE_EXHAUSTED:
      // grpc-js reports an over-size message with this status too; that one
      // fails again however often it is sent.
      if (/larger than/i.test(status.details)) return new MessageTooLargeError(message, fields);
      fields.retryable = true;
      return new OverloadedError(message, fields);
    case GrpcStatus.INVALID_ARGUMENT:
      return new InvalidArgumentError(message, fields);
    case GrpcStatus.NOT_FOUND:
      return new NotFoundError(message, fields);
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return new AuthRefusedError(message, fields);
    default:
      return new TestudoError(message, fields);
  }
}
