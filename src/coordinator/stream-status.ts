import type * as grpc from '@grpc/grpc-js';

/** A server stream of either kind, as far as ending it goes. */
type ServerStream = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/**
 * Ends a server stream with an error status (code, details, trailing
 * metadata such as the leader hint).
 *
 * Never `call.destroy(error)` for this: grpc-js sends a stream's status from
 * the Writable's `_final`, which a destroyed stream never runs, so the status
 * is never sent and the client waits on an open, silent stream for ever (the
 * `testudo run` hang after a leader kill). Emitting 'error' is what grpc-js
 * listens for: it records the status and ends the stream, which sends it.
 */
export function failStream(call: ServerStream, status: Partial<grpc.StatusObject>): void {
  if (call.cancelled || call.writableEnded || call.destroyed) return;
  call.emit('error', Object.assign(new Error(status.details ?? 'stream failed'), status));
}
