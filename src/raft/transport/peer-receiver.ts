import { decodeFrame, PeerDecodeError, type SnapshotChunk } from './peer-codec.js';
import type { MutableStats, PeerLogger } from './peer-sender.js';
import { SnapshotAssembler } from './snapshot-chunks.js';
import type { Message, NodeId } from '../core/types.js';
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
  /** Whether a message from this node may be delivered (false: not a member). */
  readonly admitsSender: (from: NodeId) => boolean;
  /** Messages dropped by the sender checks, by reason. */
  readonly onRefused: (reason: PeerRefusal, count: number) => void;
}

/**
 * Why peer traffic was dropped: the call's credential names another node
 * (identity), a message names a sender other than its stream's
 * (forged-sender), or its sender is not a member (non-member).
 */
export type PeerRefusal = 'identity' | 'forged-sender' | 'non-member';

export class InboundStream {
  /** The sender, from the call metadata. */
  readonly from: NodeId;
  private readonly ctx: ReceiverContext;
  private readonly assembler: SnapshotAssembler;
  private framesReceivedValue = 0;
  /** A snapshot was dropped: its remaining chunks are skipped quietly until a new one starts. */
  private discarding = false;
  private closed = false;
  private readonly warnedRefusals = new Set<PeerRefusal>();

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
      const refusal = this.senderRefusal(m.from);
      if (refusal !== null) {
        this.refuse(refusal, m.from, m.type);
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
    const refusal = this.senderRefusal(chunk.header.from);
    if (refusal !== null) {
      this.assembler.reset();
      this.refuse(refusal, chunk.header.from, chunk.header.type);
      this.rejectChunk(chunk, `snapshot from ${chunk.header.from}: ${refusal}`);
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

  /**
   * Every message of a stream must come from the node the stream's call
   * authenticated as, and that node must be a member: a forged sender id
   * could otherwise vote, or depose a leader with a huge term, in another's name.
   */
  private senderRefusal(from: NodeId): PeerRefusal | null {
    if (from !== this.from) return 'forged-sender';
    if (!this.ctx.admitsSender(from)) return 'non-member';
    return null;
  }

  private refuse(reason: PeerRefusal, from: NodeId, type: Message['type']): void {
    this.ctx.stats.framesRejected++;
    this.ctx.onRefused(reason, 1);
    // Once per stream and reason: a flood of forged messages must not flood the log too.
    if (this.warnedRefusals.has(reason)) return;
    this.warnedRefusals.add(reason);
    this.ctx.logger.warn({ peer: this.from, claimedFrom: from, type, reason }, `dropped a peer message: ${reason === 'forged-sender' ? `it names ${from} as its sender on ${this.from}'s stream` : `${from} is not a member`}`);
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
