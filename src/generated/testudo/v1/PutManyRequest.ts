// Original file: proto/testudo.proto

import type { PutRequest as _testudo_v1_PutRequest, PutRequest__Output as _testudo_v1_PutRequest__Output } from '../../testudo/v1/PutRequest.js';

/**
 * Several writes in one call (the client library sends its callers'
 * concurrent puts this way). They are committed together in one log entry,
 * in the order given (or, while a member of the cluster runs a build that
 * cannot apply such an entry, one entry per write, all proposed at once),
 * and answered together: one result per write, in the same order. Each write keeps its own idempotency key (required here), so a
 * retried call applies each write once. The call is refused as a whole
 * (INVALID_ARGUMENT, nothing written) when any write breaks a limit, when it
 * holds no write or more than 1,000, or when it would not fit one log entry.
 */
export interface PutManyRequest {
  'puts'?: (_testudo_v1_PutRequest)[];
}

/**
 * Several writes in one call (the client library sends its callers'
 * concurrent puts this way). They are committed together in one log entry,
 * in the order given (or, while a member of the cluster runs a build that
 * cannot apply such an entry, one entry per write, all proposed at once),
 * and answered together: one result per write, in the same order. Each write keeps its own idempotency key (required here), so a
 * retried call applies each write once. The call is refused as a whole
 * (INVALID_ARGUMENT, nothing written) when any write breaks a limit, when it
 * holds no write or more than 1,000, or when it would not fit one log entry.
 */
export interface PutManyRequest__Output {
  'puts': (_testudo_v1_PutRequest__Output)[];
}
