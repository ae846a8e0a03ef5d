import * as grpc from '@grpc/grpc-js';

import { assert } from '../core/errors.js';
import { frameSerialize, peerPingPath, peerStreamPath, raftPeerService } from './grpc-peer-service.js';
import {
  batchFrameOverheadBytes,
  decodeStreamSummary,
  encodeBatchFrame,
  encodeChunkFrame,
  messageBytesUpperBound,
  type StreamSummary,
} from './peer-codec.js';
import { SnapshotChunker } from './snapshot-chunks.js';
import { MessageType, type Message, type NodeId } from '../core/types.js';
import { tracer } from '../../common/trace.js';

/**
 * The sending half of the transport for one peer: a bounded queue, one
 * long-lived client-streaming call, and the reconnect backoff.
 *
 * `enqueue` only queues; a flush scheduled for later writes everything queued
 * as one batch frame (several when they would pass messageBytesMax) and never
 * waits for a reply. Batches go before snapshot chunks, so heartbeats keep
 * flowing while a large snapshot is on its way: a Snap may therefore finish
 * after messages given later, which Raft tolerates.
 */

/** Structured logger, pino-compatible. */
export interface PeerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MutableStats {
  framesSent: number;
  messagesSent: number;
  bytesSent: number;
  framesReceived: number;
  messagesReceived: number;
  droppedMessages: number;
  snapshotsSent: number;
  snapshotsReceived: number;
  framesRejected: number;
  snapshotsRejected: number;
}

/** What every PeerSender shares with the transport that owns it. */
export interface SenderContext {
  readonly nodeId: NodeId;
  readonly messageBytesMax: number;
  readonly snapshotChunkBytes: number;
  readonly peerQueueMessagesMax: number;
  readonly peerQueueBytesMax: number;
  readonly snapshotBytesMax: number;
  readonly reconnectBackoffMs: { readonly base: number; readonly max: number };
  readonly channelOptions: grpc.ChannelOptions;
  /** TLS or plaintext, shared by every peer's channel. */
  readonly credentials: grpc.ChannelCredentials;
  /** Call metadata (from, address, cluster id); cloned for every call. */
  readonly metadata: grpc.Metadata;
  readonly logger: PeerLogger;
  readonly stats: MutableStats;
  /** Schedules `flush`; setImmediate or a microtask. Returns a cancel function. */
  scheduleFlush(flush: () => void): () => void;
  /** Deferred to a later turn of the event loop, so the handler is never called from inside `send`. */
  reportUnreachable(peer: NodeId): void;
  reportSnapshotStatus(peer: NodeId, ok: boolean): void;
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** In [0, 1); jitter for the reconnect backoff. */
  random(): number;
}

/** Bytes of snapshot chunk frames handed to gRPC and not yet written out, per multiple of the chunk size. */
const snapshotChunksInFlightMax = 2;
/** How long `close` waits for a peer to acknowledge the end of a stream before cancelling it. */
const closeGraceMs = 1_000;
/** Bytes a chunk frame adds around its header, metadata and data (tags, lengths, offsets, crc). */
const chunkFrameOverheadBytes = 96;

const misconfigurationCodes: ReadonlySet<grpc.status> = new Set([
  grpc.status.FAILED_PRECONDITION,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNIMPLEMENTED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
]);

interface OpenStream {
  readonly call: grpc.ClientWritableStream<Uint8Array>;
  /** write() returned false: wait for 'drain'. */
  needDrain: boolean;
  /** Bytes handed to write() whose callback has not run yet. */
  inflightBytes: number;
  /** The channel reached READY while this stream was writing: the backoff starts over. */
  connected: boolean;
  readonly done: Promise<void>;
}

interface SnapshotJob {
  readonly chunker: SnapshotChunker;
  settled: boolean;
}

export class PeerSender {
  readonly id: NodeId;
  private addressValue: string;
  private readonly ctx: SenderContext;
  private client: grpc.Client | null = null;
  private stream: OpenStream | null = null;
  /** Messages waiting to be written, from `queueHead` on. */
  private queue: Message[] = [];
  private queueHead = 0;
  /** Upper bound of the encoded size of the queued messages. */
  private queueBytes = 0;
  /** At most one snapshot per peer is queued or on its way. */
  private snapshot: SnapshotJob | null = null;
  private backoffAttempts = 0;
  private backoffUntilMs = 0;
  private reportedInBackoff = false;
  private cancelFlush: (() => void) | null = null;
  private pingCall: grpc.ClientUnaryCall | null = null;
  private closed = false;

  constructor(ctx: SenderContext, id: NodeId, address: string) {
    this.ctx = ctx;
    this.id = id;
    this.addressValue = address;
  }

  get address(): string {
    return this.addressValue;
  }

  /** Queues `m` and schedules a flush, or drops it (reporting the peer) when it cannot go now. */
  enqueue(m: Message): void {
    assert(!this.closed, `PeerSender ${this.id}: enqueue after close`);
    if (this.stream === null && this.ctx.nowMs() < this.backoffUntilMs) {
      this.ctx.stats.droppedMessages++;
      if (m.type === MessageType.Snap) this.ctx.reportSnapshotStatus(this.id, false);
      if (!this.reportedInBackoff) {
        this.reportedInBackoff = true;
        this.ctx.reportUnreachable(this.id);
      }
      return;
    }
    if (m.type === MessageType.Snap ? !this.maybeQueueSnapshot(m) : !this.maybeQueueMessage(m)) return;
    this.openStream();
    this.scheduleFlush();
  }

  private maybeQueueMessage(m: Message): boolean {
    const bytes = messageBytesUpperBound(m);
    if (bytes > this.ctx.messageBytesMax - batchFrameOverheadBytes) {
      this.ctx.logger.error({ peer: this.id, type: m.type, bytes, messageBytesMax: this.ctx.messageBytesMax }, 'dropped a message larger than messageBytesMax');
      this.ctx.stats.droppedMessages++;
      return false;
    }
    const inflightBytes = this.stream?.inflightBytes ?? 0;
    const queued = this.queue.length - this.queueHead;
    if (queued >= this.ctx.peerQueueMessagesMax || this.queueBytes + inflightBytes + bytes > this.ctx.peerQueueBytesMax) {
      this.ctx.stats.droppedMessages++;
      this.ctx.reportUnreachable(this.id);
      return false;
    }
    this.queue.push(m);
    this.queueBytes += bytes;
    return true;
  }

  private maybeQueueSnapshot(m: Message): boolean {
    assert(m.snapshot !== null, `Snap message to ${m.to} without a snapshot`);
    const dataBytes = m.snapshot.data.byteLength;
    let reason = '';
    if (this.snapshot !== null) reason = 'another snapshot to this peer is still on its way';
    else if (dataBytes > this.ctx.snapshotBytesMax) reason = `snapshot of ${dataBytes} bytes exceeds snapshotBytesMax ${this.ctx.snapshotBytesMax}`;
    const { voters, learners } = m.snapshot.metadata.confState;
    let headerBytes = messageBytesUpperBound(m);
    for (const id of [...voters, ...learners]) headerBytes += 3 * id.length + 6;
    // A membership list so long that header and chunk do not fit is taken out of the chunk.
    const fitted = Math.min(this.ctx.snapshotChunkBytes, this.ctx.messageBytesMax - headerBytes - chunkFrameOverheadBytes);
    if (reason === '' && fitted <= 0) reason = `snapshot header of ${headerBytes} bytes leaves no room in messageBytesMax`;
    if (reason !== '') {
      this.ctx.logger.warn({ peer: this.id, index: m.snapshot.metadata.index, bytes: dataBytes }, `dropped a snapshot: ${reason}`);
      this.ctx.stats.droppedMessages++;
      this.ctx.reportSnapshotStatus(this.id, false);
      return false;
    }
    this.snapshot = { chunker: new SnapshotChunker(m, fitted), settled: false };
    return true;
  }

  private scheduleFlush(): void {
    if (this.cancelFlush !== null || this.closed) return;
    this.cancelFlush = this.ctx.scheduleFlush(() => {
      this.cancelFlush = null;
      this.flush();
    });
  }

  /** Writes what is queued until the stream pushes back or nothing is left. */
  private flush(): void {
    const s = this.stream;
    if (this.closed || s === null) return;
    while (!s.needDrain && this.stream === s) {
      if (this.queueHead < this.queue.length) {
        this.writeBatch(s);
      } else if (this.snapshot !== null && !this.snapshot.chunker.done && s.inflightBytes < snapshotChunksInFlightMax * this.ctx.snapshotChunkBytes) {
        this.writeChunk(s, this.snapshot);
      } else {
        break;
      }
    }
    // Give back the written prefix once it is most of the array.
    if (this.queueHead > 0 && this.queueHead * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Writes as many queued messages as fit in one frame. */
  private writeBatch(s: OpenStream): void {
    const budget = this.ctx.messageBytesMax - batchFrameOverheadBytes;
    let end = this.queueHead;
    let bytes = 0;
    while (end < this.queue.length) {
      const next = messageBytesUpperBound(this.queue[end]!);
      if (end > this.queueHead && bytes + next > budget) break;
      bytes += next;
      end++;
    }
    let batch: Message[];
    if (this.queueHead === 0 && end === this.queue.length) {
      // The common case: everything queued fits in one frame.
      batch = this.queue;
      this.queue = [];
    } else {
      batch = this.queue.slice(this.queueHead, end);
      this.queueHead = end;
    }
    this.queueBytes -= bytes;
    const frame = encodeBatchFrame(batch);
    assert(frame.byteLength <= this.ctx.messageBytesMax, `batch frame of ${frame.byteLength} bytes exceeds messageBytesMax ${this.ctx.messageBytesMax}`);
    this.ctx.stats.messagesSent += batch.length;
    this.write(s, frame, null);
  }

  private writeChunk(s: OpenStream, job: SnapshotJob): void {
    const chunk = job.chunker.next();
    const frame = encodeChunkFrame(chunk);
    assert(frame.byteLength <= this.ctx.messageBytesMax, `chunk frame of ${frame.byteLength} bytes exceeds messageBytesMax ${this.ctx.messageBytesMax}`);
    this.write(s, frame, chunk.last ? () => this.settleSnapshot(job, true) : null);
  }

  private write(s: OpenStream, frame: Uint8Array, onWritten: (() => void) | null): void {
    const bytes = frame.byteLength;
    s.inflightBytes += bytes;
    this.ctx.stats.framesSent++;
    this.ctx.stats.bytesSent += bytes;
    tracer?.event('raft.send', `to=${this.id} bytes=${bytes}`);
    const more = s.call.write(frame, () => {
      s.inflightBytes -= bytes;
      if (!s.connected && this.client?.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) {
        s.connected = true;
        if (this.stream === s) this.backoffAttempts = 0;
      }
      onWritten?.();
      if (this.stream === s && this.snapshot !== null) this.scheduleFlush();
    });
    if (!more) s.needDrain = true;
  }

  private settleSnapshot(job: SnapshotJob, ok: boolean): void {
    if (job.settled) return;
    job.settled = true;
    if (this.snapshot === job) this.snapshot = null;
    if (ok) {
      this.ctx.stats.snapshotsSent++;
      this.ctx.stats.messagesSent++;
    } else {
      this.ctx.stats.droppedMessages++;
    }
    if (!this.closed) this.ctx.reportSnapshotStatus(this.id, ok);
  }

  private ensureClient(): grpc.Client {
    this.client ??= new grpc.Client(this.addressValue, this.ctx.credentials, this.ctx.channelOptions);
    return this.client;
  }

  private openStream(): void {
    if (this.stream !== null) return;
    const client = this.ensureClient();
    let markDone = (): void => {};
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const call = client.makeClientStreamRequest<Uint8Array, StreamSummary>(
      peerStreamPath,
      frameSerialize,
      decodeStreamSummary,
      this.ctx.metadata.clone(),
      {},
      (error) => {
        markDone();
        this.onStreamEnded(s, error);
      },
    );
    const s: OpenStream = { call, needDrain: false, inflightBytes: 0, connected: false, done };
    call.on('drain', () => {
      s.needDrain = false;
      if (this.stream === s) this.scheduleFlush();
    });
    // Failures arrive through the call's callback; this only keeps a stray
    // stream error from becoming an uncaught exception.
    call.on('error', (error: Error) => this.ctx.logger.debug({ peer: this.id, err: error }, 'peer stream error'));
    this.stream = s;
  }

  private onStreamEnded(s: OpenStream, error: grpc.ServiceError | null): void {
    if (this.stream !== s || this.closed) return;
    const code = error?.code ?? grpc.status.OK;
    // A refusal means two nodes disagree on their configuration; anything else is the network or a restart.
    const level = misconfigurationCodes.has(code) ? 'error' : 'info';
    this.ctx.logger[level]({ peer: this.id, address: this.addressValue, code, details: error?.details ?? '' }, 'peer stream ended');
    this.stream = null;
    this.dropQueue();
    if (this.snapshot !== null) this.settleSnapshot(this.snapshot, false);
    // A fresh channel next time connects at once instead of waiting out gRPC's own backoff.
    this.client?.close();
    this.client = null;
    this.backoffAttempts++;
    const ceilingMs = Math.min(this.ctx.reconnectBackoffMs.max, this.ctx.reconnectBackoffMs.base * 2 ** Math.min(this.backoffAttempts - 1, 30));
    // Jitter in [ceiling/2, ceiling) keeps the nodes of a cluster from reconnecting in lockstep.
    this.backoffUntilMs = this.ctx.nowMs() + ceilingMs * (0.5 + 0.5 * this.ctx.random());
    this.reportedInBackoff = true;
    this.ctx.reportUnreachable(this.id);
  }

  private dropQueue(): void {
    this.ctx.stats.droppedMessages += this.queue.length - this.queueHead;
    this.queue = [];
    this.queueHead = 0;
    this.queueBytes = 0;
  }

  /** Points the peer at a new address: the current stream ends, the queue goes to the new address. */
  setAddress(address: string): void {
    if (address === this.addressValue) return;
    this.addressValue = address;
    const old = this.stream;
    this.stream = null;
    if (this.snapshot !== null) this.settleSnapshot(this.snapshot, false);
    this.pingCall?.cancel();
    if (old !== null) old.call.end();
    this.client?.close();
    this.client = null;
    this.backoffAttempts = 0;
    this.backoffUntilMs = 0;
    if (this.queueHead < this.queue.length) {
      this.openStream();
      this.scheduleFlush();
    }
  }

  /** Sends one Ping unless one is pending or the peer is in backoff. */
  ping(deadlineMs: number, onRoundTrip: (peer: NodeId, seconds: number) => void): void {
    if (this.closed || this.pingCall !== null) return;
    if (this.stream === null && this.ctx.nowMs() < this.backoffUntilMs) return;
    const started = process.hrtime.bigint();
    const method = raftPeerService.Ping;
    this.pingCall = this.ensureClient().makeUnaryRequest(
      peerPingPath,
      method.requestSerialize,
      method.responseDeserialize,
      { from: this.ctx.nodeId },
      this.ctx.metadata.clone(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => {
        this.pingCall = null;
        if (this.closed) return;
        if (error !== null || response === undefined) {
          this.ctx.logger.debug({ peer: this.id, code: error?.code }, 'peer ping failed');
          return;
        }
        if (response.nodeId !== this.id) {
          this.ctx.logger.warn({ peer: this.id, address: this.addressValue, answeredBy: response.nodeId }, 'peer address answers as another node');
          return;
        }
        onRoundTrip(this.id, Number(process.hrtime.bigint() - started) / 1e9);
      },
    );
  }

  /** Ends the stream (waiting up to closeGraceMs for the peer's answer) and closes the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelFlush?.();
    this.cancelFlush = null;
    this.pingCall?.cancel();
    this.pingCall = null;
    const s = this.stream;
    this.stream = null;
    this.dropQueue();
    if (this.snapshot !== null) this.settleSnapshot(this.snapshot, false);
    if (s !== null) {
      s.call.end();
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), closeGraceMs)));
      const timedOut = await Promise.race([s.done.then(() => false), graceOver]);
      clearTimeout(timer);
      if (timedOut) s.call.cancel();
    }
    this.client?.close();
    this.client = null;
  }
}
