import { checkSeal, sealInPlace } from '../frame.js';
import { assert } from '../core/errors.js';
import type { NodeId } from '../core/types.js';

/**
 * An independent, synced record of the durable Raft state a node last
 * acknowledged: the highest term, the vote in that term, the last log index
 * and the term of the entry there. It is kept outside LevelDB because LevelDB's own recovery drops a
 * damaged or truncated log tail without an error, and a deleted log file
 * looks like an empty database; both would let a node forget its vote (and
 * vote twice in a term) or forget entries it acknowledged (and lose committed
 * data).
 *
 * The invariant the writer keeps: the record never claims more than the
 * storage holds durably. So it is written after a synced batch that raised
 * the term, changed the vote or appended entries, and, before a batch that
 * replaces entries (a conflicting suffix, or a log a snapshot supersedes), it
 * is first lowered to the last entry that batch keeps. On open, storage older
 * than the record is a rollback (`checkDurableState`).
 *
 * The last entry's term matters as much as its index: a log whose suffix was
 * overwritten by a new leader and then rolled back to the old copy has the
 * same length, term and vote, but holds the entries it had replaced (the
 * simulator's seed 671 applies such an entry: a state-machine safety
 * violation).
 *
 * Layout (fixed `durableRecordBytes`, big-endian):
 *   0  u32 crc32c of bytes 4..end (a sealed record, src/raft/frame.ts)
 *   4  u32 magic "TSDR"
 *   8  u32 version
 *  12  f64 term            (safe integer)
 *  20  f64 lastIndex       (safe integer)
 *  28  f64 sequence        (write counter, for diagnostics)
 *  36  f64 lastTerm        (term of the entry at lastIndex; 0 when unknown)
 *  44  u16 vote byte length, then the vote id in UTF-8 (up to voteBytesMax)
 */
export interface DurableRecord {
  readonly term: number;
  /** The vote cast in `term`, or '' when none. */
  readonly vote: NodeId;
  /** The last log index (or snapshot index) durable at the time of writing. */
  readonly lastIndex: number;
  /** The term of the entry at `lastIndex`; 0 when the writer did not know it (an entry compacted away). */
  readonly lastTerm: number;
  readonly sequence: number;
}

/** What the storage holds after it was opened, compared against the record. */
export interface ObservedDurableState {
  readonly term: number;
  readonly vote: NodeId;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export const durableRecordMagic = 0x54534452; // "TSDR"
export const durableRecordVersion = 1;
/** Longest node id the record holds; node ids are validated far shorter. */
export const voteBytesMax = 256;
const headerBytes = 46;
export const durableRecordBytes = headerBytes + voteBytesMax;

export class DurableRecordError extends Error {
  override readonly name = 'DurableRecordError';
}

export function encodeDurableRecord(record: DurableRecord): Buffer {
  assert(Number.isSafeInteger(record.term) && record.term >= 0, 'durable record: term must be a safe integer');
  assert(Number.isSafeInteger(record.lastIndex) && record.lastIndex >= 0, 'durable record: lastIndex must be a safe integer');
  assert(Number.isSafeInteger(record.lastTerm) && record.lastTerm >= 0, 'durable record: lastTerm must be a safe integer');
  assert(Number.isSafeInteger(record.sequence) && record.sequence >= 0, 'durable record: sequence must be a safe integer');
  const vote = Buffer.from(record.vote, 'utf8');
  assert(vote.length <= voteBytesMax, `durable record: vote id longer than ${voteBytesMax} bytes`);
  const buf = Buffer.alloc(durableRecordBytes);
  buf.writeUInt32BE(durableRecordMagic, 4);
  buf.writeUInt32BE(durableRecordVersion, 8);
  buf.writeDoubleBE(record.term, 12);
  buf.writeDoubleBE(record.lastIndex, 20);
  buf.writeDoubleBE(record.sequence, 28);
  buf.writeDoubleBE(record.lastTerm, 36);
  buf.writeUInt16BE(vote.length, 44);
  vote.copy(buf, headerBytes);
  sealInPlace(buf);
  const check = decodeDurableRecord(buf);
  assert(check.term === record.term && check.vote === record.vote && check.lastIndex === record.lastIndex && check.lastTerm === record.lastTerm, 'durable record: encode/decode mismatch');
  return buf;
}

/** Decodes a record; throws `DurableRecordError` naming what is wrong. */
export function decodeDurableRecord(buf: Uint8Array): DurableRecord {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length !== durableRecordBytes) throw new DurableRecordError(`durable record is ${b.length} bytes, expected ${durableRecordBytes}`);
  if (!checkSeal(b).ok) throw new DurableRecordError('durable record checksum mismatch');
  if (b.readUInt32BE(4) !== durableRecordMagic) throw new DurableRecordError('durable record has the wrong magic');
  const version = b.readUInt32BE(8);
  if (version !== durableRecordVersion) throw new DurableRecordError(`durable record version ${version} is not supported (expected ${durableRecordVersion})`);
  const term = b.readDoubleBE(12);
  const lastIndex = b.readDoubleBE(20);
  const sequence = b.readDoubleBE(28);
  const lastTerm = b.readDoubleBE(36);
  const voteBytes = b.readUInt16BE(44);
  if (![term, lastIndex, sequence, lastTerm].every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new DurableRecordError('durable record holds an invalid number');
  }
  if (voteBytes > voteBytesMax) throw new DurableRecordError('durable record vote length out of range');
  const vote = b.toString('utf8', headerBytes, headerBytes + voteBytes);
  return { term, vote, lastIndex, lastTerm, sequence };
}

/**
 * Compares what storage holds with the last durable record. Returns null when
 * storage is at or past the record, else one sentence per thing that went
 * back (for the refusal message). `termAt(index)` is the term storage holds
 * at an index, or null when the index is compacted or past its log. Pure: the
 * simulator calls it to model a node that refuses to start on rolled-back
 * state.
 */
export function checkDurableState(record: DurableRecord, observed: ObservedDurableState, termAt: (index: number) => number | null): string[] | null {
  const problems: string[] = [];
  if (observed.term < record.term) {
    problems.push(`term went back from ${record.term} to ${observed.term}`);
  } else if (observed.term === record.term && record.vote !== '' && observed.vote !== record.vote) {
    problems.push(`the vote in term ${record.term} changed from ${record.vote} to ${observed.vote === '' ? 'none' : observed.vote}`);
  }
  if (observed.lastIndex < record.lastIndex) {
    problems.push(`the log ends at index ${observed.lastIndex} but index ${record.lastIndex} was acknowledged as durable (${record.lastIndex - observed.lastIndex} entries missing)`);
  } else if (record.lastTerm > 0) {
    // By log matching, the same term at the recorded index means the same log up to it.
    const term = termAt(record.lastIndex);
    if (term !== null && term !== record.lastTerm) {
      problems.push(`the entry at index ${record.lastIndex} has term ${term} but one of term ${record.lastTerm} was acknowledged as durable (an overwritten suffix came back)`);
    }
  }
  return problems.length === 0 ? null : problems;
}
