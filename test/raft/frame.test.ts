import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/raft/crc32c.js';
import { checkSeal, encodeFrame, frameHeaderBytes, scanFrames, seal, sealBytes, sealInPlace, type FrameScan } from '../../src/raft/frame.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-frame-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const prefix = Buffer.from('{"k":"', 'utf8');
const payloadBytesMax = 1024;
const records = ['{"k":"put","n":1}', '{"k":"put","n":2,"pad":"xxxxxxxxxxxxxxxxxxxx"}', '{"k":"confirm","ids":["a","b"]}', '{"k":"put","n":4}'];

let fileCount = 0;

/** Writes the frames of `payloads` to a new file, synced, as an appending writer does; returns its path. */
async function writeFrames(payloads: readonly string[]): Promise<string> {
  const file = path.join(tmp, `frames-${fileCount++}.log`);
  const handle = await open(file, 'a');
  try {
    for (const payload of payloads) await handle.write(encodeFrame(payload));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return file;
}

/** Offsets of the frames of `payloads` written one after another. */
function offsets(payloads: readonly string[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const payload of payloads) {
    out.push(at);
    at += frameHeaderBytes + Buffer.byteLength(payload, 'utf8');
  }
  return out;
}

/** XORs one byte of `bytes` with `mask`. */
function flip(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = (bytes[at] ?? 0) ^ mask;
}

function texts(scan: FrameScan): string[] {
  return scan.frames.map((f) => f.payload.toString('utf8'));
}

function scanFile(file: string, withPrefix = true): FrameScan {
  return scanFrames(readFileSync(file), { payloadBytesMax, ...(withPrefix ? { payloadPrefix: prefix } : {}) });
}

describe('frames', () => {
  it('reads back what was written and synced, at the offsets written', async () => {
    const file = await writeFrames(records);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual(records);
    expect(scan.frames.map((f) => f.offset)).toEqual(offsets(records));
    expect(scan.skipped).toEqual([]);
    expect(scan.tail).toBeNull();
    expect(scan.validEnd).toBe(readFileSync(file).length);
    const first = readFileSync(file);
    expect(first.readUInt32LE(0)).toBe(Buffer.byteLength(records[0]!));
    expect(first.readUInt32LE(4)).toBe(crc32c(Buffer.from(records[0]!)));
  });

  it('frames bytes as well as strings, and refuses an empty payload', () => {
    const bytes = Uint8Array.of(1, 2, 3);
    expect(encodeFrame(bytes).subarray(frameHeaderBytes)).toEqual(Buffer.from(bytes));
    expect(encodeFrame('é').readUInt32LE(0)).toBe(2);
    expect(() => encodeFrame('')).toThrow(/empty/);
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(/empty/);
  });

  it('skips a frame with a flipped payload byte and keeps the ones after it', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    const at = offsets(records)[1]!;
    flip(data, at + frameHeaderBytes + 12, 0x04);
    writeFileSync(file, data);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual([records[0], records[2], records[3]]);
    expect(scan.skipped).toEqual([{ offset: at, problem: 'checksum', bytes: frameHeaderBytes + records[1]!.length }]);
    expect(scan.tail).toBeNull();
  });

  it('skips a frame whose stored checksum is damaged', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    flip(data, offsets(records)[2]! + 5, 0x80);
    writeFileSync(file, data);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual([records[0], records[1], records[3]]);
    expect(scan.skipped.map((s) => s.problem)).toEqual(['checksum']);
  });

  it('catches an impossible length and resynchronizes after it', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    const at = offsets(records);
    data.writeUInt32LE(0xffffffff, at[0]!); // over payloadBytesMax
    data.writeUInt32LE(0, at[2]!); // a payload is never empty
    writeFileSync(file, data);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual([records[1], records[3]]);
    expect(scan.skipped).toEqual([
      { offset: at[0], problem: 'length', bytes: at[1]! - at[0]! },
      { offset: at[2], problem: 'length', bytes: at[3]! - at[2]! },
    ]);
  });

  it('catches a plausible but wrong length (it swallows the next frame) and keeps that frame', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    const at = offsets(records);
    data.writeUInt32LE(records[2]!.length + frameHeaderBytes + records[3]!.length, at[2]!);
    writeFileSync(file, data);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual([records[0], records[1], records[3]]);
    expect(scan.skipped).toEqual([{ offset: at[2], problem: 'checksum', bytes: at[3]! - at[2]! }]);
    expect(scan.tail).toBeNull();
  });

  it('takes consecutive damaged frames as one skipped stretch', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    const at = offsets(records);
    flip(data, at[1]! + frameHeaderBytes + 3, 0x20);
    flip(data, at[2]! + 1, 0x01);
    writeFileSync(file, data);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual([records[0], records[3]]);
    expect(scan.skipped).toEqual([{ offset: at[1], problem: 'checksum', bytes: at[3]! - at[1]! }]);
  });

  it('resynchronizes without a payload prefix by trying every offset', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    flip(data, offsets(records)[1]! + frameHeaderBytes, 0xff);
    writeFileSync(file, data);
    const scan = scanFile(file, false);
    expect(texts(scan)).toEqual([records[0], records[2], records[3]]);
    expect(scan.skipped).toHaveLength(1);
  });

  it('tells a torn tail: a frame cut mid-payload, a partial header, zero fill', async () => {
    const at = offsets(records);
    const cut = await writeFrames(records);
    truncateSync(cut, at[3]! + frameHeaderBytes + 3);
    let scan = scanFile(cut);
    expect(texts(scan)).toEqual(records.slice(0, 3));
    expect(scan.tail).toEqual({ offset: at[3], problem: 'past-end', bytes: frameHeaderBytes + 3, torn: true });
    expect(scan.validEnd).toBe(at[3]);

    const header = await writeFrames(records);
    truncateSync(header, at[3]! + 5);
    scan = scanFile(header);
    expect(scan.tail).toEqual({ offset: at[3], problem: 'short', bytes: 5, torn: true });

    const zeros = await writeFrames(records);
    appendFileSync(zeros, Buffer.alloc(4096));
    scan = scanFile(zeros);
    expect(texts(scan)).toEqual(records);
    expect(scan.tail).toMatchObject({ problem: 'length', bytes: 4096, torn: true });
  });

  it('does not take damage at the end for a torn write', async () => {
    const file = await writeFrames(records);
    const data = readFileSync(file);
    const last = offsets(records)[3]!;
    flip(data, last + frameHeaderBytes + 2, 0x01);
    writeFileSync(file, data);
    const scan = scanFile(file);
    expect(texts(scan)).toEqual(records.slice(0, 3));
    expect(scan.tail).toEqual({ offset: last, problem: 'checksum', bytes: data.length - last, torn: false });
  });

  it('catches every single-byte change anywhere in a file', async () => {
    const file = await writeFrames(records);
    const clean = readFileSync(file);
    for (let at = 0; at < clean.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const data = Buffer.from(clean);
        flip(data, at, mask);
        const scan = scanFrames(data, { payloadBytesMax, payloadPrefix: prefix });
        expect(scan.skipped.length + (scan.tail === null ? 0 : 1), `byte ${at} ^ ${mask}`).toBeGreaterThan(0);
        expect(scan.frames.length, `byte ${at} ^ ${mask}`).toBe(records.length - 1);
      }
    }
  });
});

describe('sealed records', () => {
  it('seals and checks, and the payload is a copy', () => {
    const payload = Uint8Array.of(9, 8, 7, 6);
    const record = seal(payload);
    expect(record.byteLength).toBe(sealBytes + 4);
    payload[0] = 0;
    const check = checkSeal(record);
    expect(check.ok && [...check.payload]).toEqual([9, 8, 7, 6]);
    expect(new DataView(record.buffer).getUint32(0)).toBe(crc32c(Uint8Array.of(9, 8, 7, 6)));
  });

  it('seals in place a record built with room for its checksum', () => {
    const record = new Uint8Array(sealBytes + 3);
    record.set([1, 2, 3], sealBytes);
    sealInPlace(record);
    expect(checkSeal(record).ok).toBe(true);
    expect(() => sealInPlace(new Uint8Array(2))).toThrow(RangeError);
  });

  it('catches a flipped byte anywhere, and a record too short for its checksum', () => {
    const record = seal(Buffer.from('the durable state', 'utf8'));
    for (let at = 0; at < record.byteLength; at++) {
      const damaged = Uint8Array.from(record);
      flip(damaged, at, 0x10);
      const check = checkSeal(damaged);
      expect(check.ok, `byte ${at}`).toBe(false);
      if (!check.ok) expect(check.reason).toMatch(/^checksum mismatch \(stored [0-9a-f]+, computed [0-9a-f]+\)$/);
    }
    const short = checkSeal(Uint8Array.of(1, 2, 3));
    expect(short).toMatchObject({ ok: false, reason: 'record of 3 bytes is shorter than its checksum' });
  });
});
