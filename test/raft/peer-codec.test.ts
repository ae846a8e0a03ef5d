import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';
import { crc32c } from '../../src/raft/crc32c.js';
import { AssertionFailure } from '../../src/raft/core/errors.js';
import {
  decodeFrame,
  decodeMessage,
  encodeBatchFrame,
  encodeChunkFrame,
  encodeMessage,
  messageBytesUpperBound,
  PeerDecodeError,
  type SnapshotChunk,
} from '../../src/raft/transport/peer-codec.js';
import { SnapshotAssembler, SnapshotChunker } from '../../src/raft/transport/snapshot-chunks.js';
import { EntryType, MessageType, message, type Message, type SnapshotMetadata } from '../../src/raft/core/types.js';

const root = protobuf.loadSync(protoPath('raft.proto'));
const PeerFrame = root.lookupType('testudo.raft.v1.PeerFrame');

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** A message of `type` with every field set to something other than its zero value. */
function full(type: MessageType): Message {
  return message({
    type,
    from: 'n1',
    to: 'n2',
    term: 7,
    logTerm: 6,
    index: 2 ** 53 - 1,
    entries: [
      { term: 6, index: 100, type: EntryType.Normal, data: bytes(1, 2, 3) },
      { term: 7, index: 101, type: EntryType.ConfChange, data: new Uint8Array(0) },
    ],
    commit: 99,
    commitTerm: 5,
    reject: true,
    rejectHint: 42,
    context: 'read-ctx-é✓',
  });
}

const metadata: SnapshotMetadata = { index: 90, term: 5, confState: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } };

function snap(data: Uint8Array): Message {
  return message({ type: MessageType.Snap, from: 'n1', to: 'n2', term: 5, snapshot: { metadata, data } });
}

function chunksOf(m: Message, chunkBytes: number): SnapshotChunk[] {
  const chunker = new SnapshotChunker(m, chunkBytes);
  const chunks: SnapshotChunk[] = [];
  while (!chunker.done) chunks.push(chunker.next());
  return chunks;
}

/** The chunk as the receiver sees it, after the wire. */
function viaWire(chunk: SnapshotChunk): SnapshotChunk {
  const frame = decodeFrame(encodeChunkFrame(chunk));
  if (frame.kind !== 'chunk') throw new Error('expected a chunk frame');
  return frame.chunk;
}

function rawFrame(body: object): Uint8Array {
  return PeerFrame.encode(PeerFrame.fromObject(body)).finish();
}

describe('peer codec: messages', () => {
  const batchTypes = Object.values(MessageType).filter((t) => t !== MessageType.Snap);

  it.each(batchTypes)('round-trips a %s message through a batch frame', (type) => {
    const m = full(type);
    const frame = decodeFrame(encodeBatchFrame([m, message({ type, from: 'n3', to: 'n2', term: 1 })]));
    expect(frame).toEqual({ kind: 'batch', messages: [m, message({ type, from: 'n3', to: 'n2', term: 1 })] });
  });

  it.each(Object.values(MessageType))('round-trips a %s message through its proto object', (type) => {
    const m = full(type);
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('round-trips a Snap message through its chunks', () => {
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31) & 0xff);
    const m = snap(data);
    const assembler = new SnapshotAssembler(1 << 20);
    const results = chunksOf(m, 4096).map((c) => assembler.add(viaWire(c)));
    expect(results.map((r) => r.kind)).toEqual(['partial', 'partial', 'complete']);
    const last = results[2];
    expect(last?.kind === 'complete' && last.message).toEqual(m);
  });

  it('leaves a Snap header without its snapshot', () => {
    expect(decodeMessage(encodeMessage(snap(bytes(1, 2)))).snapshot).toBeNull();
  });

  it('copies entry data out of the frame', () => {
    const frame = encodeBatchFrame([full(MessageType.App)]);
    const decoded = decodeFrame(frame);
    const data = decoded.kind === 'batch' ? decoded.messages[0]?.entries[0]?.data : undefined;
    expect(data).toEqual(bytes(1, 2, 3));
    expect(data?.buffer).not.toBe(frame.buffer);
  });

  it('is readable by proto-loader, and reads what proto-loader writes', () => {
    const definition = protoLoader.loadSync(protoPath('raft.proto'), protoLoaderOptions);
    const stream = (definition['testudo.raft.v1.RaftPeer'] as protoLoader.ServiceDefinition)['Stream']!;
    const ours = full(MessageType.HeartbeatResp);
    const theirs = stream.requestDeserialize(Buffer.from(encodeBatchFrame([ours]))) as { batch: { messages: Record<string, unknown>[] } };
    expect(theirs.batch.messages[0]).toMatchObject({ type: 'HEARTBEAT_RESP', index: 2 ** 53 - 1, rejectHint: 42, context: ours.context });
    const back = decodeFrame(stream.requestSerialize({ batch: { messages: [{ ...theirs.batch.messages[0] }] } }));
    expect(back).toEqual({ kind: 'batch', messages: [ours] });
  });

  it('bounds the encoded size of a message from above', () => {
    for (const type of Object.values(MessageType)) {
      const m = full(type);
      expect(encodeBatchFrame([m]).byteLength).toBeLessThanOrEqual(messageBytesUpperBound(m) + 16);
    }
  });
});

describe('peer codec: malformed input', () => {
  const valid = encodeMessage(full(MessageType.App));

  it.each([
    ['an unknown type', { ...valid, type: 99 }],
    ['type 0 (unspecified)', { ...valid, type: 0 }],
    ['a negative term', { ...valid, term: -1 }],
    ['a fractional index', { ...valid, index: 1.5 }],
    ['an unsafe commit', { ...valid, commit: 2 ** 53 }],
    ['a string term', { ...valid, term: '7' }],
    ['entries that are not a list', { ...valid, entries: {} }],
    ['an entry of type 2', { ...valid, entries: [{ term: 1, index: 1, type: 2, data: bytes() }] }],
    ['entry data that is not bytes', { ...valid, entries: [{ term: 1, index: 1, type: 0, data: 'abc' }] }],
    ['a non-string from', { ...valid, from: 3 }],
    ['a non-boolean reject', { ...valid, reject: 1 }],
    ['null', null],
  ])('rejects a message with %s', (_what, value) => {
    expect(() => decodeMessage(value)).toThrow(PeerDecodeError);
  });

  it('rejects frames that are not protobuf, or empty, or hold no body', () => {
    expect(() => decodeFrame(bytes(0xff, 0xff, 0xff))).toThrow(PeerDecodeError);
    expect(() => decodeFrame(bytes(0x0a, 0x10, 0x01))).toThrow(PeerDecodeError); // length beyond the end
    expect(() => decodeFrame(new Uint8Array(0))).toThrow(/neither a batch nor a chunk/);
  });

  it('rejects an unknown message type on the wire', () => {
    expect(() => decodeFrame(bytes(0x0a, 0x04, 0x0a, 0x02, 0x08, 0x63))).toThrow(/unknown message type 99/);
  });

  it('rejects a uint64 beyond 2^53 on the wire', () => {
    const frame = rawFrame({ batch: { messages: [{ type: 'APP', from: 'n1', to: 'n2', index: '18446744073709551615' }] } });
    expect(() => decodeFrame(frame)).toThrow(/index/);
  });

  it('rejects a Snap inside a batch and a chunk whose header is not a Snap', () => {
    expect(() => decodeFrame(rawFrame({ batch: { messages: [{ type: 'SNAP', from: 'n1', to: 'n2' }] } }))).toThrow(/as chunks/);
    const chunk = { header: { type: 'APP', from: 'n1', to: 'n2' }, metadata: { index: 1, term: 1 }, totalBytes: 1, offset: 0, data: bytes(1), last: true };
    expect(() => decodeFrame(rawFrame({ chunk }))).toThrow(/not Snap/);
    expect(() => decodeFrame(rawFrame({ chunk: { ...chunk, header: { type: 'SNAP', from: 'n1', to: 'n2' }, metadata: undefined } }))).toThrow(
      /metadata/,
    );
  });
});

describe('snapshot chunks', () => {
  it('sends a 0-byte snapshot as one last chunk', () => {
    const chunks = chunksOf(snap(new Uint8Array(0)), 1024);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ offset: 0, totalBytes: 0, last: true, crc32c: crc32c(new Uint8Array(0)) });
    const result = new SnapshotAssembler(0).add(viaWire(chunks[0]!));
    expect(result.kind).toBe('complete');
  });

  it('cuts exact multiples of the chunk size without an empty tail', () => {
    const data = new Uint8Array(3072).fill(9);
    const chunks = chunksOf(snap(data), 1024);
    expect(chunks.map((c) => [c.offset, c.data.byteLength, c.last])).toEqual([
      [0, 1024, false],
      [1024, 1024, false],
      [2048, 1024, true],
    ]);
    expect(chunks[2]?.crc32c).toBe(crc32c(data));
    expect(chunks[0]?.header.snapshot).toBeNull();
  });

  it('refuses to cut a message that is not a Snap', () => {
    expect(() => new SnapshotChunker(full(MessageType.App), 10)).toThrow(AssertionFailure);
  });

  const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const [c0, c1, c2] = chunksOf(snap(data), 1000) as [SnapshotChunk, SnapshotChunk, SnapshotChunk];

  function assemble(chunks: SnapshotChunk[], snapshotBytesMax = 1 << 20): string[] {
    const assembler = new SnapshotAssembler(snapshotBytesMax);
    return chunks.map((c) => {
      const r = assembler.add(c);
      return r.kind === 'rejected' ? `rejected: ${r.reason}` : r.kind;
    });
  }

  it('assembles chunks in order', () => {
    expect(assemble([c0, c1, c2])).toEqual(['partial', 'partial', 'complete']);
  });

  it('rejects a gap, an overlap, and a chunk with no start', () => {
    expect(assemble([c0, c2])[1]).toMatch(/offset 2000, expected 1000/);
    expect(assemble([c0, c1, c1])[2]).toMatch(/offset 1000, expected 2000/);
    expect(assemble([c1])[0]).toMatch(/no snapshot in progress/);
    // After a rejection the partial snapshot is gone.
    expect(assemble([c0, c2, c2])[2]).toMatch(/no snapshot in progress/);
  });

  it('rejects a snapshot beyond snapshotBytesMax, or a chunk beyond total_bytes', () => {
    expect(assemble([c0], 2999)[0]).toMatch(/exceeds snapshotBytesMax 2999/);
    expect(assemble([c0, { ...c1, data: new Uint8Array(2500) }])[1]).toMatch(/beyond the snapshot's 3000 bytes/);
  });

  it('rejects a crc mismatch, a short snapshot, and a chunk of another snapshot', () => {
    expect(assemble([c0, c1, { ...c2, crc32c: (c2.crc32c ^ 0x10) >>> 0 }])[2]).toMatch(/crc32c mismatch/);
    expect(assemble([c0, c1, { ...c2, data: new Uint8Array(10) }])[2]).toMatch(/crc32c mismatch|last chunk ends/);
    expect(assemble([c0, { ...c1, last: true }])[1]).toMatch(/last chunk ends at 2000 of 3000/);
    expect(assemble([c0, { ...c1, totalBytes: 4000 }])[1]).toMatch(/4000 bytes/);
    expect(assemble([c0, { ...c1, metadata: { ...metadata, index: 91 } }])[1]).toMatch(/another snapshot/);
  });

  it('starts over on a new first chunk', () => {
    expect(assemble([c0, c1, c0, c1, c2])).toEqual(['partial', 'partial', 'partial', 'partial', 'complete']);
  });
});
