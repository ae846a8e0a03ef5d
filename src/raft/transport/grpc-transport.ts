import { performance } from 'node:perf_hooks';

import * as grpc from '@grpc/grpc-js';

import { metadataClusterId, metadataFeatureLevel, metadataFrom, metadataFromAddress, peerChannelOptions, raftPeerService } from './grpc-peer-service.js';
import type { StreamSummary } from './peer-codec.js';
import { InboundStream, type PeerRefusal, type ReceiverContext } from './peer-receiver.js';
import { PeerSender, type MutableStats, type PeerLogger, type SenderContext } from './peer-sender.js';
import type { Transport, TransportHandler } from './transport.js';
import { MessageType, type Message, type NodeId } from '../core/types.js';
import { tracer } from '../../common/trace.js';

export { peerServerOptions } from './grpc-peer-service.js';
export type { PeerLogger } from './peer-sender.js';
export type { PeerRefusal } from './peer-receiver.js';

/**
 * The Raft peer transport over gRPC (proto/raft.proto, service RaftPeer).
 *
 * Outbound, each peer gets one long-lived client-streaming call, opened on the
 * first send; `send` only queues, and a flush on a later turn of the event loop
 * writes everything queued for a peer as one batch frame, without waiting for
 * any reply. Inbound, `registerService` adds the service to a server the
 * caller owns and binds. See `Transport` for the contract.
 */

export interface GrpcTransportOptions {
  readonly nodeId: NodeId;
  /** Streams from another cluster are refused with FAILED_PRECONDITION. */
  readonly clusterId: string;
  /** This node's address as its peers should dial it; sent in call metadata. */
  readonly advertiseAddress: string;
  readonly handler: TransportHandler;
  /** pino-compatible; defaults to a logger that drops everything. */
  readonly logger?: PeerLogger;
  /** Largest frame sent or received (gRPC max send and receive length). Default 16 MiB. */
  readonly messageBytesMax?: number;
  /** Snapshot data per chunk frame; below messageBytesMax. Default 1 MiB, or half of messageBytesMax if that is less. */
  readonly snapshotChunkBytes?: number;
  /** Messages queued per peer before new ones are dropped. Default 8192. */
  readonly peerQueueMessagesMax?: number;
  /** Bytes queued (or handed to gRPC, not yet written) per peer before new messages are dropped. Default 64 MiB. */
  readonly peerQueueBytesMax?: number;
  /** Largest snapshot sent or reassembled. Default 1 GiB. */
  readonly snapshotBytesMax?: number;
  /** How often each peer is pinged for `onPeerRoundTrip`; 0 disables. Default 1000. */
  readonly pingIntervalMs?: number;
  /** Round-trip time of a Ping; pings are sent only when this is given. */
  readonly onPeerRoundTrip?: (peer: NodeId, seconds: number) => void;
  /** Backoff before reconnecting to a failed peer: doubles from base to max, with jitter. Default {50, 2000}. */
  readonly reconnectBackoffMs?: { readonly base: number; readonly max: number };
  /**
   * When queued messages are flushed: 'immediate' (setImmediate, the default)
   * also batches sends made by separate I/O callbacks of one event-loop turn;
   * 'microtask' flushes at the end of the current callback.
   */
  readonly flushScheduling?: 'immediate' | 'microtask';
  /** Jitter source in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Credentials of the channels to peers (TLS); default plaintext. The server's side is the caller's server. */
  readonly credentials?: grpc.ChannelCredentials;
  /** Authentication of peer calls; without it any caller of the right cluster id is taken at its word. */
  readonly peerAuth?: PeerAuth;
  /**
   * The feature level of the application on this node, a small integer the
   * application defines (what its log entries may hold that an older build
   * could not apply). Sent on every outbound call; each peer's is read back
   * with `peerFeatureLevel`. Absent: none is sent, as by builds before it.
   */
  readonly featureLevel?: number;
}

/**
 * How the transport authenticates its peers (the coordinator supplies it
 * from its auth file; docs/security.md, "Peer authentication").
 */
export interface PeerAuth {
  /** Extra metadata on every outbound peer call, e.g. `authorization`. */
  readonly callMetadata: Readonly<Record<string, string>>;
  /** Why an inbound call claiming to be `from` is refused (its credential names another node), or null to accept it. */
  refuseCaller(from: NodeId, metadata: grpc.Metadata): string | null;
  /** Whether a message from `from` may be delivered: false for a node that is not a member. */
  admitsSender(from: NodeId): boolean;
  /** Inbound calls or messages dropped, by reason (identity, forged-sender, non-member). */
  onRefused(reason: PeerRefusal, count: number): void;
}

export interface GrpcTransportStats {
  readonly framesSent: number;
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly framesReceived: number;
  readonly messagesReceived: number;
  /** Outbound messages dropped: queue full, peer unknown or in backoff, stream failed. */
  readonly droppedMessages: number;
  readonly snapshotsSent: number;
  readonly snapshotsReceived: number;
  /** Inbound frames dropped: malformed, misaddressed, or chunks of a dropped snapshot. */
  readonly framesRejected: number;
  /** Inbound snapshots dropped: bad crc, gap, size beyond snapshotBytesMax, ... */
  readonly snapshotsRejected: number;
}

export const GRPC_TRANSPORT_DEFAULTS = {
  messageBytesMax: 16 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  peerQueueMessagesMax: 8192,
  peerQueueBytesMax: 64 * 1024 * 1024,
  snapshotBytesMax: 1024 * 1024 * 1024,
  pingIntervalMs: 1000,
  reconnectBackoffMs: { base: 50, max: 2000 },
} as const;

/** gRPC channel options are 32-bit signed integers. */
const grpcLengthMax = 0x7fff_ffff;
/** A pending ping older than this is abandoned. */
const pingDeadlineMinMs = 5_000;

const silentLogger: PeerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class GrpcTransport implements Transport {
  readonly nodeId: NodeId;
  private readonly clusterId: string;
  private readonly handler: TransportHandler;
  private readonly logger: PeerLogger;
  private readonly pingIntervalMs: number;
  private readonly onPeerRoundTrip: ((peer: NodeId, seconds: number) => void) | null;
  private readonly stats_: MutableStats = {
    framesSent: 0,
    messagesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    messagesReceived: 0,
    droppedMessages: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    framesRejected: 0,
    snapshotsRejected: 0,
  };
  private readonly senderContext: SenderContext;
  private readonly receiverContext: ReceiverContext;
  private readonly peers = new Map<NodeId, PeerSender>();
  /** Ends each inbound call still open. */
  private readonly inbound = new Set<() => void>();
  /** Senders of removed peers still ending their streams; `close` waits for them. */
  private readonly closing = new Set<Promise<void>>();
  /** Handler reports waiting for the next turn of the event loop. */
  private pendingUnreachable = new Set<NodeId>();
  private pendingSnapshotStatus: [NodeId, boolean][] = [];
  private reportTimer: NodeJS.Immediate | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly warnedUnknownPeers = new Set<NodeId>();
  /** Each peer's feature level, from its open inbound stream (the latest one when a reconnect overlaps the old). */
  private readonly peerLevels = new Map<NodeId, { readonly level: number; readonly stream: object }>();
  private readonly peerAuth: PeerAuth | null;
  private closed = false;

  constructor(options: GrpcTransportOptions) {
    const o = resolveOptions(options);
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.handler = options.handler;
    this.logger = options.logger ?? silentLogger;
    this.pingIntervalMs = o.pingIntervalMs;
    this.onPeerRoundTrip = options.onPeerRoundTrip ?? null;
    const metadata = new grpc.Metadata();
    metadata.set(metadataFrom, options.nodeId);
    metadata.set(metadataFromAddress, options.advertiseAddress);
    metadata.set(metadataClusterId, options.clusterId);
    if (options.featureLevel !== undefined) {
      if (!Number.isSafeInteger(options.featureLevel) || options.featureLevel < 0) throw new RangeError(`featureLevel must be a non-negative integer, got ${options.featureLevel}`);
      metadata.set(metadataFeatureLevel, String(options.featureLevel));
    }
    for (const [key, value] of Object.entries(options.peerAuth?.callMetadata ?? {})) metadata.set(key, value);
    this.peerAuth = options.peerAuth ?? null;
    const random = options.random ?? Math.random;
    const schedule = options.flushScheduling === 'microtask' ? scheduleMicrotask : scheduleImmediate;
    this.senderContext = {
      nodeId: options.nodeId,
      ...o,
      channelOptions: peerChannelOptions(o.messageBytesMax, o.reconnectBackoffMs),
      credentials: options.credentials ?? grpc.credentials.createInsecure(),
      metadata,
      logger: this.logger,
      stats: this.stats_,
      scheduleFlush: schedule,
      reportUnreachable: (peer) => this.deferReport(() => this.pendingUnreachable.add(peer)),
      reportSnapshotStatus: (peer, ok) => this.deferReport(() => this.pendingSnapshotStatus.push([peer, ok])),
      nowMs: () => performance.now(),
      random,
    };
    this.receiverContext = {
      nodeId: options.nodeId,
      handler: options.handler,
      logger: this.logger,
      stats: this.stats_,
      snapshotBytesMax: o.snapshotBytesMax,
      admitsSender: (from) => this.peerAuth?.admitsSender(from) ?? true,
      onRefused: (reason, count) => this.peerAuth?.onRefused(reason, count),
    };
    if (this.onPeerRoundTrip !== null && this.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.pingPeers(), this.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  /** Adds the RaftPeer service (Stream and Ping) to a server the caller creates, binds and shuts down. */
  registerService(server: grpc.Server): void {
    server.addService(raftPeerService, {
      Stream: (call: grpc.ServerReadableStream<Buffer, StreamSummary>, callback: grpc.sendUnaryData<StreamSummary>) =>
        this.handleStream(call, callback),
      Ping: (call: grpc.ServerUnaryCall<{ from: string }, { nodeId: string }>, callback: grpc.sendUnaryData<{ nodeId: string }>) =>
        this.handlePing(call, callback),
    });
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        this.stats_.droppedMessages++;
        if (!this.warnedUnknownPeers.has(m.to)) {
          this.warnedUnknownPeers.add(m.to);
          this.logger.warn({ peer: m.to, type: m.type }, 'dropped a message to a peer with no address');
        }
        if (m.type === MessageType.Snap) this.senderContext.reportSnapshotStatus(m.to, false);
        this.senderContext.reportUnreachable(m.to);
        continue;
      }
      peer.enqueue(m);
    }
  }

  setPeer(id: NodeId, address: string): void {
    if (this.closed || id === this.nodeId) return;
    const peer = this.peers.get(id);
    if (peer === undefined) {
      this.peers.set(id, new PeerSender(this.senderContext, id, address));
      this.warnedUnknownPeers.delete(id);
    } else if (peer.address !== address) {
      this.logger.info({ peer: id, from: peer.address, to: address }, 'peer address changed');
      peer.setAddress(address);
    }
  }

  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    const closing = peer.close().finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }

  stats(): GrpcTransportStats {
    return { ...this.stats_ };
  }

  /** Ends every stream (outbound and inbound), stops the timers, closes the channels. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.reportTimer !== null) clearImmediate(this.reportTimer);
    this.reportTimer = null;
    for (const finish of this.inbound) finish();
    const senders = [...this.peers.values()];
    this.peers.clear();
    await Promise.all([...senders.map((sender) => sender.close()), ...this.closing]);
  }

  private deferReport(record: () => void): void {
    if (this.closed) return;
    record();
    this.reportTimer ??= setImmediate(() => this.flushReports());
  }

  private flushReports(): void {
    this.reportTimer = null;
    const unreachable = this.pendingUnreachable;
    const statuses = this.pendingSnapshotStatus;
    this.pendingUnreachable = new Set();
    this.pendingSnapshotStatus = [];
    for (const [peer, ok] of statuses) {
      if (this.closed) return;
      this.handler.onSnapshotStatus(peer, ok);
    }
    for (const peer of unreachable) {
      if (this.closed) return;
      this.handler.onUnreachable(peer);
    }
  }

  /**
   * The feature level `peer` sent on the inbound stream it has open to this
   * node: 0 when it sent none or a malformed one (a build from before the
   * levels), null while it has no stream open (never connected, restarting,
   * or gone), since it may come back as another build.
   */
  peerFeatureLevel(peer: NodeId): number | null {
    return this.peerLevels.get(peer)?.level ?? null;
  }

  private pingPeers(): void {
    const onRoundTrip = this.onPeerRoundTrip;
    if (this.closed || onRoundTrip === null) return;
    const deadlineMs = Math.max(pingDeadlineMinMs, this.pingIntervalMs);
    for (const peer of this.peers.values()) peer.ping(deadlineMs, onRoundTrip);
  }

  /** The caller's id and address, or the status to refuse the call with. */
  private checkCaller(metadata: grpc.Metadata): { from: NodeId; address: string } | { code: grpc.status; details: string } {
    const text = (key: string): string => {
      const value = metadata.get(key)[0];
      return typeof value === 'string' ? value : '';
    };
    const clusterId = text(metadataClusterId);
    const from = text(metadataFrom);
    if (clusterId !== this.clusterId) {
      return {
        code: grpc.status.FAILED_PRECONDITION,
        details: `cluster id mismatch: node ${this.nodeId} belongs to cluster "${this.clusterId}", caller ${from || '(unnamed)'} to cluster "${clusterId}"`,
      };
    }
    if (from === '') return { code: grpc.status.INVALID_ARGUMENT, details: `missing ${metadataFrom} metadata` };
    if (from === this.nodeId) return { code: grpc.status.INVALID_ARGUMENT, details: `${metadataFrom} is ${from}, this node's own id` };
    const refused = this.peerAuth?.refuseCaller(from, metadata) ?? null;
    if (refused !== null) {
      this.peerAuth?.onRefused('identity', 1);
      return { code: grpc.status.PERMISSION_DENIED, details: refused };
    }
    return { from, address: text(metadataFromAddress) };
  }

  private handleStream(call: grpc.ServerReadableStream<Buffer, StreamSummary>, callback: grpc.sendUnaryData<StreamSummary>): void {
    if (this.closed) {
      callback({ code: grpc.status.UNAVAILABLE, details: `node ${this.nodeId} is shutting down its Raft transport` });
      return;
    }
    const caller = this.checkCaller(call.metadata);
    if ('code' in caller) {
      this.logger.warn({ code: caller.code, peerAddress: call.getPeer() }, `refused a peer stream: ${caller.details}`);
      callback(caller);
      return;
    }
    if (caller.address !== '') this.handler.onPeerAddress(caller.from, caller.address);
    const stream = new InboundStream(this.receiverContext, caller.from);
    this.peerLevels.set(caller.from, { level: featureLevelOf(call.metadata), stream });
    let finished = false;
    // Ends the call: with the summary when the peer ended it or this transport
    // closes, silently when the call already broke.
    const end = (answer: boolean, error?: Error): void => {
      if (finished) return;
      finished = true;
      this.inbound.delete(finish);
      if (this.peerLevels.get(caller.from)?.stream === stream) this.peerLevels.delete(caller.from);
      stream.close();
      if (answer) callback(null, { framesReceived: stream.framesReceived });
      else this.logger.debug({ peer: caller.from, err: error }, 'inbound peer stream broke');
      // A killed leader's streams break the moment its process dies: its
      // followers may campaign at once instead of waiting out the election
      // timeout (RaftCore.reportPeerLost). Not when this transport closes.
      if (!this.closed) this.handler.onPeerLost?.(caller.from);
    };
    const finish = (): void => end(true);
    this.inbound.add(finish);
    call.on('data', (frame: Buffer) => {
      tracer?.event('raft.frame', `bytes=${frame.byteLength}`);
      stream.onFrame(frame);
    });
    call.on('end', finish);
    call.on('error', (error: Error) => end(false, error));
    call.on('cancelled', () => end(false));
  }

  private handlePing(call: grpc.ServerUnaryCall<{ from: string }, { nodeId: string }>, callback: grpc.sendUnaryData<{ nodeId: string }>): void {
    if (this.closed) {
      callback({ code: grpc.status.UNAVAILABLE, details: `node ${this.nodeId} is shutting down its Raft transport` });
      return;
    }
    const caller = this.checkCaller(call.metadata);
    if ('code' in caller) {
      callback(caller);
      return;
    }
    callback(null, { nodeId: this.nodeId });
  }
}

/** The level in a caller's metadata; 0 when absent or not a plain non-negative integer. */
function featureLevelOf(metadata: grpc.Metadata): number {
  const value = metadata.get(metadataFeatureLevel)[0];
  if (typeof value !== 'string' || !/^[0-9]{1,6}$/.test(value)) return 0;
  return Number(value);
}

type ResolvedOptions = Required<
  Pick<
    GrpcTransportOptions,
    'messageBytesMax' | 'snapshotChunkBytes' | 'peerQueueMessagesMax' | 'peerQueueBytesMax' | 'snapshotBytesMax' | 'pingIntervalMs' | 'reconnectBackoffMs'
  >
>;

function resolveOptions(options: GrpcTransportOptions): ResolvedOptions {
  const d = GRPC_TRANSPORT_DEFAULTS;
  const o: ResolvedOptions = {
    messageBytesMax: options.messageBytesMax ?? d.messageBytesMax,
    // A small messageBytesMax (the coordinator allows 4 KiB) shrinks the default chunk with it.
    snapshotChunkBytes: options.snapshotChunkBytes ?? Math.min(d.snapshotChunkBytes, Math.floor((options.messageBytesMax ?? d.messageBytesMax) / 2)),
    peerQueueMessagesMax: options.peerQueueMessagesMax ?? d.peerQueueMessagesMax,
    peerQueueBytesMax: options.peerQueueBytesMax ?? d.peerQueueBytesMax,
    snapshotBytesMax: options.snapshotBytesMax ?? d.snapshotBytesMax,
    pingIntervalMs: options.pingIntervalMs ?? d.pingIntervalMs,
    reconnectBackoffMs: options.reconnectBackoffMs ?? d.reconnectBackoffMs,
  };
  const positive = (name: string, value: number): void => {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`grpc transport: ${name} must be a positive integer, got ${value}`);
  };
  positive('messageBytesMax', o.messageBytesMax);
  positive('snapshotChunkBytes', o.snapshotChunkBytes);
  positive('peerQueueMessagesMax', o.peerQueueMessagesMax);
  positive('peerQueueBytesMax', o.peerQueueBytesMax);
  positive('reconnectBackoffMs.base', o.reconnectBackoffMs.base);
  positive('reconnectBackoffMs.max', o.reconnectBackoffMs.max);
  if (o.messageBytesMax > grpcLengthMax) throw new RangeError(`grpc transport: messageBytesMax must be at most ${grpcLengthMax}`);
  if (o.snapshotChunkBytes >= o.messageBytesMax) throw new RangeError('grpc transport: snapshotChunkBytes must be below messageBytesMax');
  if (!Number.isSafeInteger(o.snapshotBytesMax) || o.snapshotBytesMax < 0) throw new RangeError('grpc transport: snapshotBytesMax must be a non-negative integer');
  if (!Number.isSafeInteger(o.pingIntervalMs) || o.pingIntervalMs < 0) throw new RangeError('grpc transport: pingIntervalMs must be a non-negative integer');
  if (o.reconnectBackoffMs.base > o.reconnectBackoffMs.max) throw new RangeError('grpc transport: reconnectBackoffMs.base must not exceed max');
  if (options.nodeId === '') throw new RangeError('grpc transport: nodeId must not be empty');
  return o;
}

function scheduleImmediate(flush: () => void): () => void {
  const handle = setImmediate(flush);
  return () => clearImmediate(handle);
}

function scheduleMicrotask(flush: () => void): () => void {
  let cancelled = false;
  queueMicrotask(() => {
    if (!cancelled) flush();
  });
  return () => {
    cancelled = true;
  };
}
