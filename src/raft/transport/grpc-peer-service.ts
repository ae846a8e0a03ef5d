import type * as grpc from '@grpc/grpc-js';

import {
  decodePingRequest,
  decodePingResponse,
  decodeStreamSummary,
  encodePingRequest,
  encodePingResponse,
  encodeStreamSummary,
  type StreamSummary,
} from './peer-codec.js';

/**
 * The RaftPeer service of proto/raft.proto as a grpc-js service definition.
 *
 * Built here rather than by @grpc/proto-loader so that frames cross gRPC as
 * the bytes `peer-codec` produced: the sender encodes a frame once (and knows
 * its size), the receiver decodes it inside a try/catch so a malformed frame
 * is dropped without failing the stream. The paths are proto-loader's, so a
 * client or server generated from raft.proto talks to this one.
 */

export const metadataFrom = 'testudo-from';
export const metadataFromAddress = 'testudo-from-address';
export const metadataClusterId = 'testudo-cluster-id';
/** The application's feature level the caller's build applies (GrpcTransportOptions.featureLevel); absent from builds before it. */
export const metadataFeatureLevel = 'testudo-feature-level';

/** How often a channel pings an idle connection; a dead peer is noticed within time + timeout. */
export const keepaliveTimeMs = 10_000;
export const keepaliveTimeoutMs = 5_000;

export const peerStreamPath = '/testudo.raft.v1.RaftPeer/Stream';
export const peerPingPath = '/testudo.raft.v1.RaftPeer/Ping';

/** A frame leaves as the Buffer peer-codec encoded, without a copy. */
export function frameSerialize(frame: Uint8Array): Buffer {
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** Frames are decoded by the receiver itself, so that a bad one is dropped, not fatal to the stream. */
function frameDeserialize(bytes: Buffer): Buffer {
  return bytes;
}

export const raftPeerService = {
  Stream: {
    path: peerStreamPath,
    requestStream: true,
    responseStream: false,
    requestSerialize: frameSerialize,
    requestDeserialize: frameDeserialize,
    responseSerialize: (summary: StreamSummary) => frameSerialize(encodeStreamSummary(summary)),
    responseDeserialize: (bytes: Buffer) => decodeStreamSummary(bytes),
    originalName: 'stream',
  },
  Ping: {
    path: peerPingPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: (request: { readonly from: string }) => frameSerialize(encodePingRequest(request.from)),
    requestDeserialize: (bytes: Buffer) => decodePingRequest(bytes),
    responseSerialize: (response: { readonly nodeId: string }) => frameSerialize(encodePingResponse(response.nodeId)),
    responseDeserialize: (bytes: Buffer) => decodePingResponse(bytes),
    originalName: 'ping',
  },
} satisfies grpc.ServiceDefinition;

/**
 * Options for the grpc.Server that hosts the RaftPeer service: frames up to
 * `messageBytesMax` both ways, and keepalive pings so a peer whose host died
 * without closing TCP is noticed. The server is shared with other services,
 * so the caller merges these into its own options.
 */
export function peerServerOptions(messageBytesMax: number): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': messageBytesMax,
    'grpc.max_send_message_length': messageBytesMax,
    'grpc.keepalive_time_ms': keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': keepaliveTimeoutMs,
  };
}

/** Channel options of the client side of one peer. */
export function peerChannelOptions(messageBytesMax: number, reconnectBackoffMs: { readonly base: number; readonly max: number }): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': messageBytesMax,
    'grpc.max_send_message_length': messageBytesMax,
    'grpc.keepalive_time_ms': keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': reconnectBackoffMs.base,
    'grpc.max_reconnect_backoff_ms': reconnectBackoffMs.max,
    // Raft retries what was lost; gRPC must not replay frames on its own.
    'grpc.enable_retries': 0,
    // A fresh channel after a failure must not inherit a shared subchannel
    // still waiting out gRPC's own reconnect backoff.
    'grpc.use_local_subchannel_pool': 1,
  };
}
