// Original file: proto/testudo.proto


/**
 * A command for the orchestrator (workers, runs, tasks, results): JSON of a
 * src/coordinator/orchestrator OrchCommand, raw-deflated when `deflated`.
 * JSON keeps the many record shapes in one place (the TypeScript types) while
 * the envelope, ordering and idempotency stay protobuf's.
 */
export interface Orchestration {
  'payload'?: (Buffer | Uint8Array | string);
  'deflated'?: (boolean);
}

/**
 * A command for the orchestrator (workers, runs, tasks, results): JSON of a
 * src/coordinator/orchestrator OrchCommand, raw-deflated when `deflated`.
 * JSON keeps the many record shapes in one place (the TypeScript types) while
 * the envelope, ordering and idempotency stay protobuf's.
 */
export interface Orchestration__Output {
  'payload': (Buffer);
  'deflated': (boolean);
}
