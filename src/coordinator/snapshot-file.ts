import { createHash } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { assert } from '../raft/index.js';
import { RecordDecodeError } from './codec.js';
import { KvMachine } from './kv-machine.js';
import { Orchestrator } from './orchestrator/state.js';

/**
 * A saved snapshot of a cluster's replicated state (`testudo snapshot save`),
 * the input of a disaster-recovery restore (`testudo snapshot restore`).
 *
 * Layout (integers big-endian):
 *   0      8  magic "TSTDSNAP"
 *   8      4  u32 file format version (`snapshotFileVersion`)
 *  12      4  u32 header byte length H (at most `snapshotHeaderBytesMax`)
 *  16      H  header, JSON (SnapshotFileHeader), UTF-8
 *  16+H    D  the state machine's snapshot (testudo.v1.MachineSnapshot), D = header.dataBytes
 *  end-32 32  SHA-256 of every byte before it
 *
 * The trailing hash covers header and data, so a flipped bit or a truncated
 * file is refused; the header also carries the data's own SHA-256 as the
 * serving coordinator computed it, so the copy is checked end to end
 * (coordinator memory → gRPC → this file). Nothing in the file is trusted
 * before both hashes match, and a restore also decodes the whole state into
 * a state machine before it writes anything (`checkMachineData`).
 */
export interface SnapshotFileHeader {
  readonly formatVersion: number;
  /** The cluster the state was saved from. */
  readonly clusterId: string;
  /** The applied index the state reflects (the MachineSnapshot's applied_index). */
  readonly index: number;
  /** The serving node's term when it took the copy (at least the term of the entry at `index`). */
  readonly term: number;
  readonly savedAtMs: number;
  /** The coordinator that served the copy, and the leader it knew then. */
  readonly servedBy: string;
  readonly leaderId: string;
  readonly testudoVersion: string;
  readonly dataBytes: number;
  /** SHA-256 (hex) of the data, computed by the serving coordinator. */
  readonly dataSha256: string;
}

export const snapshotFileMagic = Buffer.from('TSTDSNAP', 'latin1');
export const snapshotFileVersion = 1;
/** Longest header accepted (it is a few hundred bytes). */
export const snapshotHeaderBytesMax = 64 * 1024;
/** Largest snapshot file read or written (the whole state is held in memory). */
export const snapshotFileBytesMax = 1024 * 1024 * 1024;
const prefixBytes = 16;
const hashBytes = 32;

/** A snapshot file that is damaged, truncated, of another format, or whose state does not decode. */
export class SnapshotFileError extends Error {
  override readonly name = 'SnapshotFileError';
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`snapshot file ${path} ${message}`, options);
    this.path = path;
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The file's bytes; checks the header against the data, then decodes the result back (write and read paired). */
export function encodeSnapshotFile(header: SnapshotFileHeader, data: Uint8Array): Buffer {
  assert(header.formatVersion === snapshotFileVersion, `snapshot file header version ${header.formatVersion}`);
  assert(header.dataBytes === data.byteLength, `snapshot header says ${header.dataBytes} data bytes, got ${data.byteLength}`);
  assert(header.dataSha256 === sha256Hex(data), 'snapshot header checksum does not match its data');
  const headerJson = Buffer.from(JSON.stringify(header), 'utf8');
  assert(headerJson.byteLength <= snapshotHeaderBytesMax, `snapshot header of ${headerJson.byteLength} bytes`);
  const total = prefixBytes + headerJson.byteLength + data.byteLength + hashBytes;
  assert(total <= snapshotFileBytesMax, `snapshot file of ${total} bytes is over snapshotFileBytesMax ${snapshotFileBytesMax}`);
  const buf = Buffer.alloc(total);
  snapshotFileMagic.copy(buf, 0);
  buf.writeUInt32BE(snapshotFileVersion, 8);
  buf.writeUInt32BE(headerJson.byteLength, 12);
  headerJson.copy(buf, prefixBytes);
  buf.set(data, prefixBytes + headerJson.byteLength);
  createHash('sha256').update(buf.subarray(0, total - hashBytes)).digest().copy(buf, total - hashBytes);
  const back = decodeSnapshotFile(buf, '(being written)');
  assert(back.header.index === header.index && back.data.byteLength === data.byteLength, 'snapshot file does not survive its encoding');
  return buf;
}

/** Decodes and checks a snapshot file's bytes; throws SnapshotFileError naming what is wrong. */
export function decodeSnapshotFile(buf: Uint8Array, path: string): { header: SnapshotFileHeader; data: Uint8Array } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const fail = (message: string): never => {
    throw new SnapshotFileError(path, message);
  };
  if (b.byteLength < prefixBytes + hashBytes) fail(`is ${b.byteLength} bytes: too short to be a snapshot (truncated?)`);
  if (!b.subarray(0, 8).equals(snapshotFileMagic)) fail('is not a Testudo snapshot (wrong magic)');
  const version = b.readUInt32BE(8);
  if (version !== snapshotFileVersion) fail(`has format version ${version}; this build reads version ${snapshotFileVersion}`);
  const headerBytes = b.readUInt32BE(12);
  if (headerBytes > snapshotHeaderBytesMax || prefixBytes + headerBytes + hashBytes > b.byteLength) {
    fail(`has a header length of ${headerBytes} bytes that does not fit its ${b.byteLength} bytes (truncated or damaged)`);
  }
  const header = parseHeader(b.subarray(prefixBytes, prefixBytes + headerBytes), fail);
  const expected = prefixBytes + headerBytes + header.dataBytes + hashBytes;
  if (b.byteLength < expected) fail(`is truncated: ${b.byteLength} of ${expected} bytes`);
  if (b.byteLength > expected) fail(`is ${b.byteLength} bytes, ${b.byteLength - expected} more than its header accounts for (damaged)`);
  const stored = b.subarray(expected - hashBytes);
  const actual = createHash('sha256').update(b.subarray(0, expected - hashBytes)).digest();
  if (!actual.equals(stored)) fail('is damaged: its SHA-256 does not match (a changed byte)');
  const data = b.subarray(prefixBytes + headerBytes, expected - hashBytes);
  if (sha256Hex(data) !== header.dataSha256) fail('is damaged: its data does not match the checksum the coordinator computed');
  return { header, data };
}

function parseHeader(bytes: Buffer, fail: (message: string) => never): SnapshotFileHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('has a header that is not JSON (damaged)');
  }
  if (typeof raw !== 'object' || raw === null) return fail('has a header that is not a JSON object (damaged)');
  const h = raw as Record<string, unknown>;
  const count = (key: string): number => {
    const v = h[key];
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fail(`has a header whose ${key} is not a non-negative integer (damaged)`);
  };
  const text = (key: string): string => {
    const v = h[key];
    return typeof v === 'string' ? v : fail(`has a header whose ${key} is not a string (damaged)`);
  };
  const header: SnapshotFileHeader = {
    formatVersion: count('formatVersion'),
    clusterId: text('clusterId'),
    index: count('index'),
    term: count('term'),
    savedAtMs: count('savedAtMs'),
    servedBy: text('servedBy'),
    leaderId: text('leaderId'),
    testudoVersion: text('testudoVersion'),
    dataBytes: count('dataBytes'),
    dataSha256: text('dataSha256'),
  };
  if (header.formatVersion !== snapshotFileVersion) fail(`has header version ${header.formatVersion}, file version ${snapshotFileVersion} (damaged)`);
  if (header.dataBytes > snapshotFileBytesMax) fail(`claims ${header.dataBytes} data bytes, over snapshotFileBytesMax ${snapshotFileBytesMax} (damaged)`);
  if (!/^[0-9a-f]{64}$/.test(header.dataSha256)) fail('has a header whose dataSha256 is not a SHA-256 (damaged)');
  if (header.index < 1) fail('holds a state at index 0: there is nothing to restore');
  return header;
}

/** What a snapshot's state holds, counted after decoding all of it into a state machine. */
export interface SnapshotContents {
  readonly appliedIndex: number;
  readonly keys: number;
  readonly members: readonly { id: string; address: string; kind: string }[];
  readonly idempotencyKeys: number;
  readonly runs: number;
  readonly runsByState: Readonly<Record<string, number>>;
  readonly workers: number;
  readonly breakers: Readonly<Record<string, number>>;
}

/**
 * Restores `data` into a fresh state machine (key-value state and
 * orchestrator), the way a coordinator would on start, and counts what it
 * holds. Throws SnapshotFileError when any part does not decode or does not
 * match `index`.
 */
export function checkMachineData(data: Uint8Array, index: number, path: string): SnapshotContents {
  const orchestrator = new Orchestrator();
  const machine = new KvMachine({ extension: orchestrator });
  try {
    machine.restore(data);
  } catch (error) {
    if (!(error instanceof RecordDecodeError)) throw error;
    throw new SnapshotFileError(path, `holds a state that does not restore: ${error.message}`, { cause: error });
  }
  if (machine.appliedIndex !== index) throw new SnapshotFileError(path, `holds a state at index ${machine.appliedIndex}, but its header says ${index} (damaged)`);
  const runsByState: Record<string, number> = {};
  for (const run of orchestrator.listRuns()) runsByState[run.state] = (runsByState[run.state] ?? 0) + 1;
  const breakers: Record<string, number> = {};
  const workers = orchestrator.listWorkers();
  for (const w of workers) breakers[w.breaker.state] = (breakers[w.breaker.state] ?? 0) + 1;
  return {
    appliedIndex: machine.appliedIndex,
    keys: machine.size,
    members: machine.members(),
    idempotencyKeys: machine.idempotencyKeyCount,
    runs: Object.values(runsByState).reduce((a, b) => a + b, 0),
    runsByState,
    workers: workers.length,
    breakers,
  };
}

/** Reads and checks a snapshot file (both hashes, then the whole state). */
export async function readSnapshotFile(path: string): Promise<{ header: SnapshotFileHeader; data: Uint8Array; contents: SnapshotContents }> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    throw new SnapshotFileError(path, `cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if (size > snapshotFileBytesMax) throw new SnapshotFileError(path, `is ${size} bytes, over snapshotFileBytesMax ${snapshotFileBytesMax}`);
  const handle = await open(path, 'r');
  let buf: Buffer;
  try {
    buf = await handle.readFile();
  } finally {
    await handle.close();
  }
  const { header, data } = decodeSnapshotFile(buf, path);
  return { header, data, contents: checkMachineData(data, header.index, path) };
}

/**
 * Writes `bytes` to `path` atomically: a temporary file beside it, fsync,
 * rename over `path`, fsync of the directory. A crash leaves the old file
 * (or none) and perhaps a stray temporary file, never a partial `path`.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
    assert((await handle.stat()).size === bytes.byteLength, `${tmp} does not hold the ${bytes.byteLength} bytes written`);
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
