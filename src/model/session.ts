import type { CoordinatorMessage as WireCoordinatorMessage, CoordinatorMessage__Output } from '../generated/testudo/v1/CoordinatorMessage.js';
import type { WorkerHello__Output } from '../generated/testudo/v1/WorkerHello.js';
import type { WorkerMessage as WireWorkerMessage, WorkerMessage__Output } from '../generated/testudo/v1/WorkerMessage.js';

/**
 * The Worker.Session stream's messages (proto/testudo.proto), typed once for
 * both ends: the worker agent (src/worker/agent.ts) and the leader's session
 * protocol (src/coordinator/leader/). They are the types `npm run gen:proto`
 * generates from the proto (src/generated), so the two ends cannot disagree
 * with each other or with the wire.
 *
 * What an end receives is what grpc-js hands over (the `__Output` types of
 * src/common/protos.ts's load options: every scalar and list filled in with
 * its default, the oneof's other members absent). A message from a newer
 * peer may carry a body this end does not know: then none is set.
 *
 * What an end sends is stricter than the wire allows: exactly one body, every
 * field of it given (no default filled in by omission).
 */

/** One message whose oneof `M[K]` holds exactly one member, given in full. */
type OneBody<M, K extends keyof M> = {
  [P in K]-?: { readonly [Q in P]-?: NonNullable<M[Q]> } & { readonly [Q in Exclude<K, P>]?: never };
}[K];

type WorkerBody = 'hello' | 'heartbeat' | 'results' | 'resetDone';
type CoordinatorBody = 'welcome' | 'notLeader' | 'assign' | 'cancel' | 'committed' | 'heartbeatAck' | 'reset';

/** What a worker sends on its session: hello first, then heartbeats, results and reset_done. */
export type WorkerMessage = OneBody<WorkerMessage__Output, WorkerBody>;
/** A worker's message as the leader receives it. */
export type WorkerMessageReceived = WorkerMessage__Output;
/** A worker's hello as the leader receives it (fields a worker too old to send them read as their defaults). */
export type WorkerHello = WorkerHello__Output;

/** What the leader (or a follower naming it) sends on a worker's session. */
export type CoordinatorMessage = OneBody<CoordinatorMessage__Output, CoordinatorBody>;
/** The leader's message as the worker receives it. */
export type CoordinatorMessageReceived = CoordinatorMessage__Output;

// Compile-time checks that the lists of bodies above are the proto's oneof,
// and that what each end sends is a message grpc-js can encode.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
type _SessionTypeChecks = [
  Holds<Same<WorkerBody, NonNullable<WorkerMessage__Output['body']>>>,
  Holds<Same<CoordinatorBody, NonNullable<CoordinatorMessage__Output['body']>>>,
  Holds<WorkerMessage extends WireWorkerMessage ? true : false>,
  Holds<CoordinatorMessage extends WireCoordinatorMessage ? true : false>,
];
