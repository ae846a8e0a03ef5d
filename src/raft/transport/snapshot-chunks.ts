import { crc32c } from '../crc32c.js';
import { assert } from '../core/errors.js';
import type { SnapshotChunk } from './peer-codec.js';
import { MessageType, type Message, type SnapshotMetadata } from '../core/types.js';

/**
 * A Snap message cut into chunks and glued back together. Pure: no I/O, so
 * both halves are tested without a network.
 *
 * Chunks of one snapshot travel in order on one stream: every chunk starts
 * where the previous one ended, the last one has `last` set and carries the
 * CRC-32C of the whole data. A 0-byte snapshot is a single last chunk.
 */

/** Cuts one Snap message into chunks, one at a time, so a large snapshot is never framed whole. */
export class SnapshotChunker {
  readonly message: Message;
  readonly totalBytes: number;
  private readonly data: Uint8Array;
  private readonly chunkBytes: number;
  private offset = 0;
  /** CRC-32C of data[0, offset), folded in as the chunks are cut. */
  private crc = 0;
  private lastCut = false;

  constructor(message: Message, chunkBytes: number) {
    assert(message.type === MessageType.Snap, `SnapshotChunker: message type ${message.type} is not Snap`);
    assert(message.snapshot !== null, 'SnapshotChunker: a Snap message without a snapshot');
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, `SnapshotChunker: chunkBytes ${chunkBytes} must be a positive integer`);
    this.message = message;
    this.data = message.snapshot.data;
    this.totalBytes = this.data.byteLength;
    this.chunkBytes = chunkBytes;
  }

  /** True once the last chunk has been cut. */
  get done(): boolean {
    return this.lastCut;
  }

  /** The next chunk; its data is a view of the snapshot data. */
  next(): SnapshotChunk {
    assert(!this.lastCut, 'SnapshotChunker.next after the last chunk');
    const offset = this.offset;
    const end = Math.min(this.totalBytes, offset + this.chunkBytes);
    const data = this.data.subarray(offset, end);
    this.crc = crc32c(data, this.crc);
    this.offset = end;
    this.lastCut = end === this.totalBytes;
    const { snapshot, ...header } = this.message;
    assert(snapshot !== null, 'SnapshotChunker: snapshot vanished');
    return {
      header: { ...header, entries: [], snapshot: null },
      metadata: snapshot.metadata,
      totalBytes: this.totalBytes,
      offset,
      data,
      last: this.lastCut,
      crc32c: this.lastCut ? this.crc : 0,
    };
  }
}

export type ChunkResult =
  | { readonly kind: 'partial' }
  | { readonly kind: 'complete'; readonly message: Message }
  | { readonly kind: 'rejected'; readonly reason: string };

interface PartialSnapshot {
  readonly header: Message;
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
  received: number;
  crc: number;
}

/**
 * Rebuilds Snap messages from the chunks of one stream. Any chunk that breaks
 * the rules (a gap, an overlap, a size beyond `snapshotBytesMax`, a changed
 * header, a CRC mismatch) drops the partial snapshot: the sender's Raft will
 * send a new one.
 */
export class SnapshotAssembler {
  private readonly snapshotBytesMax: number;
  private partial: PartialSnapshot | null = null;

  constructor(snapshotBytesMax: number) {
    assert(Number.isSafeInteger(snapshotBytesMax) && snapshotBytesMax >= 0, `SnapshotAssembler: bad snapshotBytesMax ${snapshotBytesMax}`);
    this.snapshotBytesMax = snapshotBytesMax;
  }

  /** True while a snapshot is partly received. */
  get pending(): boolean {
    return this.partial !== null;
  }

  /** Bytes received of the snapshot in progress. */
  get receivedBytes(): number {
    return this.partial?.received ?? 0;
  }

  reset(): void {
    this.partial = null;
  }

  add(chunk: SnapshotChunk): ChunkResult {
    const result = this.accept(chunk);
    if (result.kind !== 'partial') this.partial = null;
    return result;
  }

  private accept(chunk: SnapshotChunk): ChunkResult {
    if (chunk.offset === 0) {
      // A first chunk starts over, replacing any snapshot the sender gave up on.
      if (chunk.totalBytes > this.snapshotBytesMax) {
        return reject(`snapshot of ${chunk.totalBytes} bytes exceeds snapshotBytesMax ${this.snapshotBytesMax}`);
      }
      this.partial = { header: chunk.header, metadata: chunk.metadata, data: new Uint8Array(chunk.totalBytes), received: 0, crc: 0 };
    }
    const partial = this.partial;
    if (partial === null) return reject(`chunk at offset ${chunk.offset} with no snapshot in progress`);
    if (chunk.offset !== partial.received) return reject(`chunk at offset ${chunk.offset}, expected ${partial.received}`);
    if (chunk.totalBytes !== partial.data.byteLength) {
      return reject(`chunk says the snapshot has ${chunk.totalBytes} bytes, its first chunk said ${partial.data.byteLength}`);
    }
    if (chunk.metadata.index !== partial.metadata.index || chunk.metadata.term !== partial.metadata.term || chunk.header.from !== partial.header.from) {
      return reject('chunk belongs to another snapshot than the one in progress');
    }
    const end = chunk.offset + chunk.data.byteLength;
    if (end > partial.data.byteLength) return reject(`chunk ends at ${end}, beyond the snapshot's ${partial.data.byteLength} bytes`);
    partial.data.set(chunk.data, chunk.offset);
    partial.crc = crc32c(chunk.data, partial.crc);
    partial.received = end;
    if (!chunk.last) return { kind: 'partial' };
    if (partial.received !== partial.data.byteLength) {
      return reject(`last chunk ends at ${partial.received} of ${partial.data.byteLength} bytes`);
    }
    if (partial.crc !== chunk.crc32c) {
      return reject(`crc32c mismatch: data has ${hex(partial.crc)}, sender said ${hex(chunk.crc32c)}`);
    }
    return {
      kind: 'complete',
      message: { ...partial.header, snapshot: { metadata: partial.metadata, data: partial.data } },
    };
  }
}

function reject(reason: string): ChunkResult {
  return { kind: 'rejected', reason };
}

function hex(crc: number): string {
  return `0x${crc.toString(16).padStart(8, '0')}`;
}
