/**
 * The checksummed byte layouts Testudo writes to disk, in one place so that
 * every writer frames and checks the same way.
 *
 * Sealed record: `[u32 BE CRC-32C of the rest][payload]`, one record whose
 * size the reader knows (a LevelDB value, the durable record's fixed-size
 * file). `sealInPlace` writes the checksum of a buffer built with room for it;
 * `checkSeal` compares it.
 *
 * Frame: `[u32 LE payload length][u32 LE CRC-32C of the payload][payload]`,
 * the unit of an append-only file (the worker's outbox segments). The payload
 * is never empty: a zero length is refused, so zero fill (what some file
 * systems leave after a crash mid-append) never reads as frames, since the
 * CRC-32C of nothing is 0. `scanFrames` reads a whole file of frames back,
 * skips damaged stretches by resynchronizing on the next valid frame, and
 * tells a torn tail (a crash mid-write: a short header, a frame running past
 * the end, or zero fill) from damage that is not one.
 */
import { crc32c } from './crc32c.js';

/** Bytes of a sealed record's checksum. */
export const sealBytes = 4;

/** Writes the CRC-32C of `record[sealBytes..]` into its first four bytes (big-endian). */
export function sealInPlace(record: Uint8Array): void {
  if (record.byteLength < sealBytes) throw new RangeError(`a sealed record needs at least ${sealBytes} bytes, got ${record.byteLength}`);
  view(record).setUint32(0, crc32c(record.subarray(sealBytes)));
}

/** A new sealed record holding a copy of `payload`. */
export function seal(payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(sealBytes + payload.byteLength);
  record.set(payload, sealBytes);
  sealInPlace(record);
  return record;
}

export type SealCheck =
  | { readonly ok: true; readonly payload: Uint8Array }
  | { readonly ok: false; readonly reason: string; readonly stored: number; readonly computed: number };

/** Checks a sealed record's checksum; on success gives its payload (a view, not a copy). */
export function checkSeal(record: Uint8Array): SealCheck {
  if (record.byteLength < sealBytes) {
    return { ok: false, reason: `record of ${record.byteLength} bytes is shorter than its checksum`, stored: 0, computed: 0 };
  }
  const payload = record.subarray(sealBytes);
  const stored = view(record).getUint32(0);
  const computed = crc32c(payload);
  if (stored !== computed) return { ok: false, reason: `checksum mismatch (stored ${stored.toString(16)}, computed ${computed.toString(16)})`, stored, computed };
  return { ok: true, payload };
}

/** Bytes of a frame's header: length and checksum. */
export const frameHeaderBytes = 8;

/** A frame of `payload` (a string is framed as its UTF-8 bytes, written straight into the frame). */
export function encodeFrame(payload: string | Uint8Array): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  if (length === 0) throw new RangeError('a frame payload cannot be empty');
  if (length > 0xffffffff) throw new RangeError(`a frame payload of ${length} bytes does not fit its u32 length`);
  const frame = Buffer.allocUnsafe(frameHeaderBytes + length);
  frame.writeUInt32LE(length, 0);
  if (typeof payload === 'string') frame.write(payload, frameHeaderBytes, 'utf8');
  else frame.set(payload, frameHeaderBytes);
  frame.writeUInt32LE(crc32c(frame.subarray(frameHeaderBytes)), 4);
  return frame;
}

/** Why the bytes at an offset are not a valid frame. */
export type FrameProblem = 'short' | 'length' | 'past-end' | 'checksum';

export type FrameCheck = { readonly ok: true; readonly end: number } | { readonly ok: false; readonly problem: FrameProblem };

/** Whether a valid frame (payload of 1..payloadBytesMax bytes, checksum right) starts at `pos`. */
export function checkFrame(data: Buffer, pos: number, payloadBytesMax: number): FrameCheck {
  if (data.length - pos < frameHeaderBytes) return { ok: false, problem: 'short' };
  const length = data.readUInt32LE(pos);
  if (length === 0 || length > payloadBytesMax) return { ok: false, problem: 'length' };
  const end = pos + frameHeaderBytes + length;
  if (end > data.length) return { ok: false, problem: 'past-end' };
  if (crc32c(data.subarray(pos + frameHeaderBytes, end)) !== data.readUInt32LE(pos + 4)) return { ok: false, problem: 'checksum' };
  return { ok: true, end };
}

export interface FrameScanOptions {
  /** Longer lengths are damage (a bound on what a writer frames). */
  readonly payloadBytesMax: number;
  /**
   * Bytes every payload starts with and no payload holds elsewhere (the
   * outbox's `{"k":"`: JSON escapes quotes inside strings). Resynchronizing
   * then checks only where they occur; without it, every offset is tried.
   */
  readonly payloadPrefix?: Uint8Array;
}

export interface ScannedFrame {
  readonly offset: number;
  /** A view into the scanned buffer. */
  readonly payload: Buffer;
}

/** A damaged stretch followed by a valid frame: `bytes` bytes from `offset` skipped. */
export interface SkippedFrames {
  readonly offset: number;
  readonly problem: FrameProblem;
  readonly bytes: number;
}

/** Bytes from the end of the last valid frame to the end of the data, holding no valid frame. */
export interface FrameTail {
  readonly offset: number;
  readonly problem: FrameProblem;
  readonly bytes: number;
  /** What a crash mid-append leaves: a short header, a frame past the end, or zero fill. */
  readonly torn: boolean;
}

export interface FrameScan {
  readonly frames: readonly ScannedFrame[];
  readonly skipped: readonly SkippedFrames[];
  /** Null when the data ends with a valid frame (or is empty). */
  readonly tail: FrameTail | null;
  /** The end of the last valid frame (where appends may go once a torn tail is cut off). */
  readonly validEnd: number;
}

/** Reads every valid frame of `data`, reporting what lies between and after them. */
export function scanFrames(data: Buffer, options: FrameScanOptions): FrameScan {
  const frames: ScannedFrame[] = [];
  const skipped: SkippedFrames[] = [];
  let pos = 0;
  let validEnd = 0;
  while (pos < data.length) {
    const check = checkFrame(data, pos, options.payloadBytesMax);
    if (check.ok) {
      frames.push({ offset: pos, payload: data.subarray(pos + frameHeaderBytes, check.end) });
      pos = validEnd = check.end;
      continue;
    }
    const next = nextFrame(data, pos + 1, options);
    if (next === -1) {
      const torn = check.problem === 'short' || check.problem === 'past-end' || data[data.length - 1] === 0;
      return { frames, skipped, tail: { offset: pos, problem: check.problem, bytes: data.length - pos, torn }, validEnd };
    }
    skipped.push({ offset: pos, problem: check.problem, bytes: next - pos });
    pos = next;
  }
  return { frames, skipped, tail: null, validEnd };
}

/** The offset of the first valid frame at or after `from`, or -1. */
function nextFrame(data: Buffer, from: number, options: FrameScanOptions): number {
  const prefix = options.payloadPrefix;
  if (prefix === undefined || prefix.byteLength === 0) {
    for (let at = from; at + frameHeaderBytes < data.length; at++) if (checkFrame(data, at, options.payloadBytesMax).ok) return at;
    return -1;
  }
  let at = data.indexOf(prefix, from + frameHeaderBytes);
  while (at !== -1) {
    if (checkFrame(data, at - frameHeaderBytes, options.payloadBytesMax).ok) return at - frameHeaderBytes;
    at = data.indexOf(prefix, at + 1);
  }
  return -1;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
