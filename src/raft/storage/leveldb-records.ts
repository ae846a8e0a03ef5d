import { checkSeal, seal, sealBytes, sealInPlace } from '../frame.js';
import { assert, CorruptionError } from '../core/errors.js';
import { EntryType, type Entry, type HardState, type NodeId, type Snapshot } from '../core/types.js';

/**
 * The on-disk records of LevelDbStorage: key layout and value codecs. Every
 * value is crc32c(payload) ++ payload; decoding checks the CRC first and
 * names the directory and index on any damage.
 */

/**
 * The format version this build writes and reads. Version 2 keeps the durable
 * record (`DURABLE`, see durable-record.ts) beside LevelDB and refuses a
 * directory without it.
 */
export const formatVersion = 2;
/** The format before the durable record; opened once and migrated (its record written from its state). */
export const previousFormatVersion = 1;

export interface LogStart {
  readonly index: number;
  readonly term: number;
}

export const magic = new TextEncoder().encode('TSTDRAFT');
export const keyMeta = Uint8Array.of(0x6d); // 'm'
export const keyHardState = Uint8Array.of(0x68); // 'h'
export const keySnapshotMeta = Uint8Array.of(0x73); // 's'
export const keySnapshotData = Uint8Array.of(0x64); // 'd'
export const keyLogStart = Uint8Array.of(0x6f); // 'o'
export const entryKeyPrefix = 0x65; // 'e'
export const entryKeyBytes = 9;
export const crcBytes = sealBytes;
/** term u64 + index u64 + type u8 */
export const entryHeaderBytes = 17;
export const twoPow32 = 2 ** 32;

export function entryKey(index: number): Uint8Array {
  const key = new Uint8Array(entryKeyBytes);
  key[0] = entryKeyPrefix;
  writeU64(new DataView(key.buffer), 1, index);
  return key;
}


export function decodeEntryKey(dir: string, key: Uint8Array): number {
  if (key.byteLength !== entryKeyBytes) throw new CorruptionError(-1, `data directory ${dir}: malformed entry key of ${key.byteLength} bytes`);
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const index = view.getUint32(1) * twoPow32 + view.getUint32(5);
  if (!Number.isSafeInteger(index)) throw new CorruptionError(-1, `data directory ${dir}: entry key index out of range`);
  return index;
}

// ---------------------------------------------------------------------------
// Record encoding: crc32c(payload) ++ payload

/** A record could not be decoded; turned into a CorruptionError with context. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

/**
 * Checks a record's CRC, decodes its payload and requires every byte to be
 * consumed. Missing or damaged records become a CorruptionError naming `what`,
 * the directory and (for entries) the index.
 */
export function decodeRecord<T>(dir: string, index: number, what: string, value: Uint8Array | undefined, decode: (reader: RecordReader) => T): T {
  if (value === undefined) throw new CorruptionError(index, `data directory ${dir}: ${what} is missing`);
  try {
    const reader = RecordReader.open(value);
    const result = decode(reader);
    reader.end();
    return result;
  } catch (error) {
    if (error instanceof DecodeError) {
      throw new CorruptionError(index, `data directory ${dir}: ${what} is damaged: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** Prefixes a payload with its CRC (a sealed record, src/raft/frame.ts). */
export { seal };

export function readCrc(record: Uint8Array): number {
  return new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(0);
}

export function writeU64(view: DataView, at: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `${value} is not a non-negative safe integer`);
  view.setUint32(at, Math.floor(value / twoPow32));
  view.setUint32(at + 4, value % twoPow32);
}

/** Entries take the hot path: one allocation, CRC computed in place. */
export function encodeEntry(entry: Entry): Uint8Array {
  assert(entry.type === EntryType.Normal || entry.type === EntryType.ConfChange, `entry ${entry.index} has unknown type ${entry.type}`);
  const out = new Uint8Array(crcBytes + entryHeaderBytes + entry.data.byteLength);
  const view = new DataView(out.buffer);
  writeU64(view, crcBytes, entry.term);
  writeU64(view, crcBytes + 8, entry.index);
  view.setUint8(crcBytes + 16, entry.type);
  out.set(entry.data, crcBytes + entryHeaderBytes);
  sealInPlace(out);
  return out;
}

export function decodeEntryPayload(reader: RecordReader): Entry {
  const term = reader.u64();
  const index = reader.u64();
  const type = reader.u8();
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) throw new DecodeError(`unknown entry type ${type}`);
  return { term, index, type, data: reader.rest() };
}

export function encodeMeta(nodeId: NodeId): Uint8Array {
  return new RecordWriter().raw(magic).u32(formatVersion).str(nodeId).seal();
}

export function decodeMetaPayload(reader: RecordReader): { magicOk: boolean; version: number; nodeId: NodeId } {
  const found = reader.raw(magic.byteLength);
  const magicOk = found.every((byte, i) => byte === magic[i]);
  if (!magicOk) return { magicOk, version: 0, nodeId: '' };
  return { magicOk, version: reader.u32(), nodeId: reader.str() };
}

export function encodeHardState(hardState: HardState): Uint8Array {
  return new RecordWriter().u64(hardState.term).u64(hardState.commit).str(hardState.vote).seal();
}

export function decodeHardStatePayload(reader: RecordReader): HardState {
  const term = reader.u64();
  const commit = reader.u64();
  return { term, vote: reader.str(), commit };
}

export function encodeLogStart(logStart: LogStart): Uint8Array {
  return new RecordWriter().u64(logStart.index).u64(logStart.term).seal();
}

export function decodeLogStartPayload(reader: RecordReader): LogStart {
  return { index: reader.u64(), term: reader.u64() };
}

export function encodeSnapshotMeta(snapshot: Snapshot, dataCrc: number): Uint8Array {
  const { index, term, confState } = snapshot.metadata;
  const writer = new RecordWriter().u64(index).u64(term).u64(snapshot.data.byteLength).u32(dataCrc);
  writer.u32(confState.voters.length);
  for (const voter of confState.voters) writer.str(voter);
  writer.u32(confState.learners.length);
  for (const learner of confState.learners) writer.str(learner);
  return writer.seal();
}

export function decodeSnapshotMetaPayload(reader: RecordReader): { metadata: Snapshot['metadata']; dataBytes: number; dataCrc: number } {
  const index = reader.u64();
  const term = reader.u64();
  const dataBytes = reader.u64();
  const dataCrc = reader.u32();
  const voters = reader.strList();
  const learners = reader.strList();
  return { metadata: { index, term, confState: { voters, learners } }, dataBytes, dataCrc };
}


const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Builds a small record (not entries); grows by doubling. */
export class RecordWriter {
  private bytes = new Uint8Array(64);
  private view = new DataView(this.bytes.buffer);
  private length = 0;

  u32(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value < twoPow32, `${value} is not a u32`);
    this.reserve(4).setUint32(this.length - 4, value);
    return this;
  }

  u64(value: number): this {
    writeU64(this.reserve(8), this.length - 8, value);
    return this;
  }

  raw(data: Uint8Array): this {
    this.reserve(data.byteLength);
    this.bytes.set(data, this.length - data.byteLength);
    return this;
  }

  str(value: string): this {
    const encoded = utf8Encoder.encode(value);
    return this.u32(encoded.byteLength).raw(encoded);
  }

  seal(): Uint8Array {
    return seal(this.bytes.subarray(0, this.length));
  }

  /** Makes room for `count` more bytes and advances the length past them. */
  private reserve(count: number): DataView {
    if (this.length + count > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(this.bytes.byteLength * 2, this.length + count));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length += count;
    return this.view;
  }
}

/** Reads a record's payload; every overrun or malformed field is a DecodeError. */
export class RecordReader {
  private position = 0;

  private constructor(
    private readonly bytes: Uint8Array,
    private readonly view: DataView,
  ) {}

  static open(record: Uint8Array): RecordReader {
    const check = checkSeal(record);
    if (!check.ok) throw new DecodeError(check.reason);
    const payload = check.payload;
    return new RecordReader(payload, new DataView(payload.buffer, payload.byteOffset, payload.byteLength));
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u32(): number {
    return this.view.getUint32(this.take(4));
  }

  u64(): number {
    const at = this.take(8);
    const value = this.view.getUint32(at) * twoPow32 + this.view.getUint32(at + 4);
    if (!Number.isSafeInteger(value)) throw new DecodeError(`integer at byte ${at} exceeds 2^53`);
    return value;
  }

  raw(count: number): Uint8Array {
    const at = this.take(count);
    return this.bytes.subarray(at, at + count);
  }

  str(): string {
    const encoded = this.raw(this.u32());
    try {
      return utf8Decoder.decode(encoded);
    } catch (error) {
      throw new DecodeError('string is not valid UTF-8', { cause: error });
    }
  }

  strList(): string[] {
    const count = this.u32();
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.str());
    return out;
  }

  /** The remaining bytes (an entry's or snapshot's data). */
  rest(): Uint8Array {
    return this.raw(this.bytes.byteLength - this.position);
  }

  end(): void {
    if (this.position !== this.bytes.byteLength) throw new DecodeError(`${this.bytes.byteLength - this.position} trailing bytes`);
  }

  private take(count: number): number {
    if (this.position + count > this.bytes.byteLength) {
      throw new DecodeError(`needs ${count} bytes at byte ${this.position} of ${this.bytes.byteLength}`);
    }
    const at = this.position;
    this.position += count;
    return at;
  }
}
