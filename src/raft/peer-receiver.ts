import { decodeFrame, PeerDecodeError, type SnapshotChunk } from './peer-codec.js';
import type { MutableStats, PeerLogger } from './peer-sender.js';
import { SnapshotAssembler } from './snapshot-chunks.js';
import type { Message, NodeId } from './types.js';
import type { TransportHandler } from './transport.js';

/**
 * The receiving half of one inbound RaftPeer.Stream: decodes frames, hands
 * messages to the handler in order, and rebuilds snapshots from their chunks.
 * A bad frame is logged and dropped; the stream carries on, since Raft
 * recovers from a lost message and the next frame may well be fine.
 */

export interface ReceiverContext {
  readonly nodeId: NodeId;
  readonly handler: TransportHandler;
  readonly logger: PeerLogger;
  readonly stats: MutableStats;
  readonly snapshotBytesMax: number;
}

export class InboundStream {
  /** The sender, from the call metadata. */
  readonly from: NodeId;
  private readonly ctx: ReceiverContext;
  private readonly assembler: SnapshotAssembler;
  private framesReceivedValue = 0;
  /** A snapshot was dropped: its remaining chunks are skipped quietly until a new one starts. */
  private discarding = false;
  private closed = false;

  constructor(ctx: ReceiverContext, from: NodeId) {
    this.ctx = ctx;
    this.from = from;
    this.assembler = new SnapshotAssembler(ctx.snapshotBytesMax);
  }

  get framesReceived(): number {
    return this.framesReceivedValue;
  }

  onFrame(bytes: Uint8Array): void {
    if (this.closed) return;
    this.framesReceivedValue++;
    this.ctx.stats.framesReceived++;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      if (!(error instanceof PeerDecodeError)) throw error;
      this.ctx.stats.framesRejected++;
      this.ctx.logger.warn({ peer: this.from, bytes: bytes.byteLength, err: error }, 'dropped a malformed frame');
      return;
    }
    if (frame.kind === 'batch') this.deliverBatch(frame.messages);
    else this.addChunk(frame.chunk);
  }

  private deliverBatch(messages: readonly Message[]): void {
    let misaddressed = 0;
    for (const m of messages) {
      if (m.to !== this.ctx.nodeId) {
        misaddressed++;
        continue;
      }
      this.ctx.stats.messagesReceived++;
      this.ctx.handler.onMessage(m);
    }
    if (misaddressed > 0) {
      this.ctx.stats.framesRejected++;
      const to = messages.find((m) => m.to !== this.ctx.nodeId)?.to;
      this.ctx.logger.warn({ peer: this.from, misaddressed, to, nodeId: this.ctx.nodeId }, 'dropped messages addressed to another node');
    }
  }

  private addChunk(chunk: SnapshotChunk): void {
    if (chunk.offset === 0) this.discarding = false;
    if (this.discarding) {
      this.ctx.stats.framesRejected++;
      this.discarding = !chunk.last;
      return;
    }
    if (chunk.header.to !== this.ctx.nodeId) {
      this.assembler.reset();
      this.rejectChunk(chunk, `snapshot addressed to ${chunk.header.to}, this is ${this.ctx.nodeId}`);
      return;
    }
    if (chunk.offset === 0 && this.assembler.pending) {
      this.ctx.logger.info({ peer: this.from, receivedBytes: this.assembler.receivedBytes }, 'peer restarted a snapshot; dropped the partial one');
    }
    const result = this.assembler.add(chunk);
    if (result.kind === 'rejected') {
      this.rejectChunk(chunk, result.reason);
    } else if (result.kind === 'complete') {
      this.ctx.stats.snapshotsReceived++;
      this.ctx.stats.messagesReceived++;
      this.ctx.handler.onMessage(result.message);
    }
  }

  private rejectChunk(chunk: SnapshotChunk, reason: string): void {
    this.discarding = !chunk.last;
    this.ctx.stats.framesRejected++;
    this.ctx.stats.snapshotsRejected++;
    this.ctx.logger.warn(
      { peer: this.from, index: chunk.metadata.index, offset: chunk.offset, totalBytes: chunk.totalBytes },
      `dropped a partial snapshot: ${reason}`,
    );
  }

  /** Forgets any partial snapshot; later frames are ignored. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.assembler.pending) {
      this.ctx.logger.info({ peer: this.from, receivedBytes: this.assembler.receivedBytes }, 'stream ended inside a snapshot; dropped the partial one');
    }
    this.assembler.reset();
  }
}
