import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { AssertionFailure, CompactedError, CorruptionError, UnavailableError } from '../../src/raft/core/errors.js';
import { decodeConfChange } from '../../src/raft/core/conf-change.js';
import { DataDirLockedError, ForeignDataDirError, LevelDbStorage } from '../../src/raft/storage/leveldb-storage.js';
import { MemoryStorage } from '../../src/raft/storage/memory-storage.js';
import { SeededRng } from '../../src/common/rand.js';
import type { Storage } from '../../src/raft/core/storage.js';
import { EntryType, type ConfState, type Entry, type HardState, type Snapshot } from '../../src/raft/core/types.js';
import { TempDirs } from './fixtures/temp-dirs.js';
import { parseAck, writerDataForIndex, writerNodeId, writerTermForIndex } from './fixtures/writer-data.js';

const tempDirs = new TempDirs('testudo-leveldb');
const openStorages: LevelDbStorage[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(openStorages.splice(0).map((storage) => storage.close()));
  await tempDirs.removeAll();
});

const voters: ConfState = { voters: ['n1', 'n2', 'n3'], learners: [] };

async function open(dir: string, options: { nodeId?: string; bootstrapConfState?: ConfState; entryCacheBytesMax?: number } = {}): Promise<LevelDbStorage> {
  const storage = await LevelDbStorage.open(dir, { ...options, nodeId: options.nodeId ?? 'n1' });
  openStorages.push(storage);
  return storage;
}

async function reopen(storage: LevelDbStorage, options: { entryCacheBytesMax?: number } = {}): Promise<LevelDbStorage> {
  await storage.close();
  return open(storage.dir, { nodeId: storage.nodeId, ...options });
}

function entry(index: number, term: number, type: EntryType = EntryType.Normal): Entry {
  return { index, term, type, data: new TextEncoder().encode(`i${index}t${term}`) };
}

function run(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term));
  return out;
}

function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

function plainEntry(e: Entry): object {
  return { index: e.index, term: e.term, type: e.type, data: hex(e.data) };
}

function plainSnapshot(s: Snapshot): object {
  return { metadata: s.metadata, data: hex(s.data) };
}

/** Either the value or the error's class and message, so failures compare too. */
function outcome<T>(read: () => T, plain: (value: T) => unknown = (value) => value): unknown {
  try {
    return { value: plain(read()) };
  } catch (error) {
    return { error: (error as Error).name, message: (error as Error).message };
  }
}

/** Everything a Storage reader can see, in comparable form. */
function view(storage: Storage): object {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const terms: unknown[] = [];
  for (let i = Math.max(0, first - 2); i <= last + 1; i++) terms.push(outcome(() => storage.term(i)));
  return {
    initialState: storage.initialState(),
    first,
    last,
    snapshot: plainSnapshot(storage.snapshot()),
    terms,
    entries: outcome(() => storage.entries(first, last + 1, Infinity), (es) => es.map(plainEntry)),
  };
}

async function withRawDb(dir: string, change: (db: Level<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await change(db);
  } finally {
    await db.close();
  }
}

function entryKey(index: number): Uint8Array {
  const key = Buffer.alloc(9);
  key[0] = 0x65;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

async function flipLastByte(db: Level<Uint8Array, Uint8Array>, key: Uint8Array): Promise<void> {
  const value = await db.get(key);
  expect(value).toBeDefined();
  const damaged = Uint8Array.from(value!);
  damaged[damaged.length - 1]! ^= 0x01;
  await db.put(key, damaged);
}

/** The project's seeded generator with the helpers these tests use, so a failing run replays exactly. */
class Rng extends SeededRng {
  int(bound: number): number {
    return this.intBelow(bound);
  }

  bytes(max: number): Uint8Array {
    return Uint8Array.from({ length: this.int(max + 1) }, () => this.int(256));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

describe('LevelDbStorage', () => {
  it('initializes a new directory with the bootstrap membership', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir, { bootstrapConfState: voters });
    const fresh = MemoryStorage.bootstrap(voters.voters);
    expect(view(storage)).toEqual(view(fresh));
    const again = await reopen(storage);
    expect(view(again)).toEqual(view(fresh));
  });

  it('ignores the bootstrap membership when the directory already holds data', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir, { bootstrapConfState: voters });
    await storage.close();
    const again = await open(dir, { bootstrapConfState: { voters: ['x'], learners: [] } });
    // The founding log is the first bootstrap's: one AddVoter per founder.
    expect(view(again)).toEqual(view(MemoryStorage.bootstrap(voters.voters)));
    expect(again.entries(1, again.lastIndex() + 1, Infinity).map((e) => decodeConfChange(e.data, e.index).nodeId)).toEqual(voters.voters);
  });

  it('round-trips entries, hard state and snapshot across reopen', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir, { bootstrapConfState: voters });
    const hardState: HardState = { term: 3, vote: 'n2', commit: 4 };
    await storage.save({ hardState, entries: [...run(1, 3, 1), entry(4, 3, EntryType.ConfChange), entry(5, 3)], snapshot: null });
    await storage.createSnapshot(4, { voters: ['n1', 'n2'], learners: ['n4'] }, Uint8Array.of(1, 2, 3));
    const before = view(storage);
    const again = await reopen(storage);
    expect(view(again)).toEqual(before);
    expect(again.initialState().hardState).toEqual(hardState);
    expect(again.term(4)).toBe(3);
    expect(again.entries(4, 5, 0).map(plainEntry)).toEqual([plainEntry(entry(4, 3, EntryType.ConfChange))]);
  });

  it('truncates a conflicting suffix, also on disk', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir);
    await storage.save({ hardState: null, entries: run(1, 10, 1), snapshot: null });
    await storage.save({ hardState: null, entries: run(6, 7, 2), snapshot: null });
    const expected = [...run(1, 5, 1), ...run(6, 7, 2)].map(plainEntry);
    expect(storage.lastIndex()).toBe(7);
    expect(storage.entries(1, 8, Infinity).map(plainEntry)).toEqual(expected);
    expect(() => storage.term(8)).toThrow(UnavailableError);
    const again = await reopen(storage);
    expect(again.lastIndex()).toBe(7);
    expect(again.entries(1, 8, Infinity).map(plainEntry)).toEqual(expected);
    let stray = 0;
    await again.close();
    await withRawDb(dir, async (db) => {
      for (let i = 8; i <= 10; i++) if ((await db.get(entryKey(i))) !== undefined) stray++;
    });
    expect(stray).toBe(0);
  });

  it('keeps createSnapshot and compact across reopen', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir, { bootstrapConfState: voters });
    await storage.save({ hardState: { term: 2, vote: 'n1', commit: 8 }, entries: [...run(1, 5, 1), ...run(6, 10, 2)], snapshot: null });
    const snapshot = await storage.createSnapshot(7, voters, Uint8Array.of(7, 7));
    expect(snapshot.metadata).toEqual({ index: 7, term: 2, confState: voters });
    await storage.compact(5);
    expect(storage.firstIndex()).toBe(6);
    expect(storage.term(5)).toBe(1);
    expect(() => storage.entries(5, 7, Infinity)).toThrow(CompactedError);
    await storage.compact(7);
    const before = view(storage);
    const again = await reopen(storage);
    expect(view(again)).toEqual(before);
    expect(again.firstIndex()).toBe(8);
    expect(again.term(7)).toBe(2);
    expect(() => again.term(6)).toThrow(CompactedError);
    await expect(again.compact(9)).rejects.toThrow(AssertionFailure);
  });

  it('replaces the log with a received newer snapshot and ignores an older one', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir, { bootstrapConfState: voters });
    await storage.save({ hardState: { term: 1, vote: 'n1', commit: 3 }, entries: run(1, 6, 1), snapshot: null });
    const received: Snapshot = { metadata: { index: 20, term: 4, confState: voters }, data: Uint8Array.of(9) };
    await storage.save({ hardState: { term: 4, vote: '', commit: 20 }, entries: run(21, 22, 4), snapshot: received });
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(20)]).toEqual([21, 22, 4]);
    const older: Snapshot = { metadata: { index: 10, term: 2, confState: voters }, data: Uint8Array.of(1) };
    await storage.save({ hardState: null, entries: [], snapshot: older });
    expect(plainSnapshot(storage.snapshot())).toEqual(plainSnapshot(received));
    const before = view(storage);
    const again = await reopen(storage);
    expect(view(again)).toEqual(before);
  });

  it('answers entries() by the Storage contract', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir);
    await storage.save({ hardState: null, entries: run(1, 9, 1), snapshot: null });
    await storage.createSnapshot(3, voters, new Uint8Array(0));
    await storage.compact(3);
    expect(() => storage.entries(3, 5, Infinity)).toThrow(CompactedError);
    expect(() => storage.entries(4, 11, Infinity)).toThrow(UnavailableError);
    expect(storage.entries(4, 4, Infinity)).toEqual([]);
    expect(storage.entries(4, 10, 0).map((e) => e.index)).toEqual([4]);
    const oneEntryBytes = 24 + entry(4, 1).data.byteLength;
    expect(storage.entries(4, 10, oneEntryBytes * 2).map((e) => e.index)).toEqual([4, 5]);
  });

  it('reads entries evicted from the cache back from disk', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir, { entryCacheBytesMax: 100 });
    for (let i = 1; i <= 30; i += 3) await storage.save({ hardState: null, entries: run(i, i + 2, 1 + Math.floor(i / 10)), snapshot: null });
    expect(storage.syncedBatches).toBe(10);
    expect(storage.lastBatchMs).toBeGreaterThanOrEqual(0);
    const expected = storage.entries(1, 31, Infinity).map(plainEntry);
    expect(expected).toHaveLength(30);
    const again = await reopen(storage, { entryCacheBytesMax: 0 });
    expect(again.entries(1, 31, Infinity).map(plainEntry)).toEqual(expected);
  });

  it('refuses writes that would break the log, and stays usable', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir);
    await storage.save({ hardState: null, entries: run(1, 3, 2), snapshot: null });
    await expect(storage.save({ hardState: null, entries: run(5, 6, 2), snapshot: null })).rejects.toThrow(AssertionFailure);
    await expect(storage.save({ hardState: null, entries: run(4, 4, 1), snapshot: null })).rejects.toThrow(AssertionFailure);
    await expect(storage.setHardState({ term: 2, vote: '', commit: 4 })).rejects.toThrow(AssertionFailure);
    const first = storage.append(run(4, 4, 2));
    await expect(storage.append(run(5, 5, 2))).rejects.toThrow(/concurrent writes/);
    await first;
    expect(storage.lastIndex()).toBe(4);
  });

  it('waits for the write in progress when closed, then refuses writes', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir);
    const pending = storage.append(run(1, 3, 1));
    await storage.close();
    await pending;
    await expect(storage.append(run(4, 4, 1))).rejects.toThrow(AssertionFailure);
    const again = await open(dir);
    expect(again.lastIndex()).toBe(3);
  });

  it.each([
    { seed: 1, entryCacheBytesMax: undefined },
    { seed: 2, entryCacheBytesMax: 200 },
    { seed: 3, entryCacheBytesMax: 0 },
  ])('matches MemoryStorage under seeded random operations (seed $seed)', async ({ seed, entryCacheBytesMax }) => {
    const dir = await tempDirs.make();
    const rng = new Rng(seed);
    const memory = MemoryStorage.bootstrap(voters.voters);
    const model = { memory, disk: await open(dir, { bootstrapConfState: voters, entryCacheBytesMax }), term: 1 };
    for (let step = 0; step < 250; step++) {
      const operation = await randomStep(rng, model);
      if (rng.int(12) === 0) model.disk = await reopen(model.disk, { entryCacheBytesMax });
      const context = `seed ${seed} step ${step} after ${operation}`;
      expect(view(model.disk), context).toEqual(view(memory));
      for (let probe = 0; probe < 3; probe++) {
        const lo = memory.firstIndex() - 1 + rng.int(memory.lastIndex() - memory.firstIndex() + 3);
        const hi = lo + rng.int(memory.lastIndex() + 3 - lo);
        const maxBytes = rng.pick([0, 30, 100, Infinity]);
        const read = (storage: Storage) => outcome(() => storage.entries(lo, hi, maxBytes), (es) => es.map(plainEntry));
        expect(read(model.disk), `${context} entries(${lo}, ${hi}, ${maxBytes})`).toEqual(read(memory));
      }
    }
  });
});

type Model = { memory: MemoryStorage; disk: LevelDbStorage; term: number };

/** One Raft-valid write applied to both storages; returns its name for failure messages. */
async function randomStep(rng: Rng, model: Model): Promise<string> {
  const { memory } = model;
  const hardState = memory.initialState().hardState;
  const snapIndex = memory.snapshot().metadata.index;
  const offset = memory.firstIndex() - 1;
  const choice = rng.int(100);
  if (choice < 50) return randomAppend(rng, model);
  if (choice < 62 && hardState.commit > snapIndex) {
    const index = snapIndex + 1 + rng.int(hardState.commit - snapIndex);
    const confState = { voters: ['n1', rng.pick(['n2', 'n5'])], learners: rng.pick([[], ['n9']]) };
    const data = rng.bytes(20);
    const expected = plainSnapshot(memory.createSnapshot(index, confState, data));
    expect(plainSnapshot(await model.disk.createSnapshot(index, confState, data))).toEqual(expected);
    return `createSnapshot(${index})`;
  }
  if (choice < 72) {
    const index = snapIndex > offset ? offset + 1 + rng.int(snapIndex - offset) : offset - rng.int(2);
    memory.compact(index);
    await model.disk.compact(index);
    return `compact(${index})`;
  }
  if (choice < 82) return randomReceivedSnapshot(rng, model);
  if (choice < 88 && offset >= 1) {
    const stale = run(Math.max(1, offset - 2), offset, 1);
    await both(model, { hardState: null, entries: stale, snapshot: null });
    return 'stale append';
  }
  const commit = hardState.commit + rng.int(memory.lastIndex() - hardState.commit + 1);
  await both(model, { hardState: { term: model.term, vote: rng.pick(['', 'n1', 'n2']), commit }, entries: [], snapshot: null });
  return `hardState(commit ${commit})`;
}

async function both(model: Model, update: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null }): Promise<void> {
  model.memory.save(update);
  await model.disk.save(update);
}

/** Appends at a point past the commit and snapshot (conflicts only where Raft allows them). */
async function randomAppend(rng: Rng, model: Model): Promise<string> {
  const { memory } = model;
  const hardState = memory.initialState().hardState;
  const last = memory.lastIndex();
  const lowest = Math.max(hardState.commit, memory.snapshot().metadata.index) + 1;
  const start = lowest + rng.int(last + 2 - lowest);
  if (rng.int(4) === 0) model.term++;
  const entries: Entry[] = [];
  const count = 1 + rng.int(6);
  for (let i = start; i < start + count; i++) entries.push({ index: i, term: model.term, type: rng.pick([EntryType.Normal, EntryType.ConfChange]), data: rng.bytes(40) });
  // Entries the log start already covers are committed; both storages skip them.
  if (start === memory.firstIndex() && start > 1 && rng.int(2) === 0) entries.unshift(...run(Math.max(1, start - 2), start - 1, 1));
  const newLast = start + count - 1;
  const withHardState = rng.int(2) === 0;
  const commit = hardState.commit + rng.int(newLast - hardState.commit + 1);
  await both(model, { hardState: withHardState ? { term: model.term, vote: 'n1', commit } : null, entries, snapshot: null });
  return `append(${start}..${newLast})`;
}

/** A snapshot from the leader: newer ones replace the log, older ones are ignored. */
async function randomReceivedSnapshot(rng: Rng, model: Model): Promise<string> {
  const { memory } = model;
  const hardState = memory.initialState().hardState;
  const snapIndex = memory.snapshot().metadata.index;
  if (rng.int(4) === 0) {
    const older: Snapshot = { metadata: { index: Math.max(0, snapIndex - rng.int(3)), term: 1, confState: voters }, data: rng.bytes(8) };
    await both(model, { hardState: null, entries: [], snapshot: older });
    return `older snapshot ${older.metadata.index}`;
  }
  model.term += rng.int(2);
  const lowest = Math.max(hardState.commit, snapIndex) + 1;
  const index = lowest + rng.int(memory.lastIndex() + 6 - lowest);
  const snapshot: Snapshot = { metadata: { index, term: model.term, confState: { voters: ['n1', 'n3'], learners: [] } }, data: rng.bytes(30) };
  const entries = rng.int(2) === 0 ? run(index + 1, index + 1 + rng.int(3), model.term) : [];
  await both(model, { hardState: { term: model.term, vote: '', commit: index }, entries, snapshot });
  return `received snapshot ${index}`;
}

describe('LevelDbStorage refuses damaged or foreign data', () => {
  async function populated(): Promise<string> {
    const dir = await tempDirs.make();
    const storage = await LevelDbStorage.open(dir, { nodeId: 'n1', bootstrapConfState: voters });
    await storage.save({ hardState: { term: 1, vote: 'n1', commit: 6 }, entries: run(1, 8, 1), snapshot: null });
    await storage.createSnapshot(2, voters, Uint8Array.of(4, 5, 6));
    await storage.close();
    return dir;
  }

  async function openError(dir: string, nodeId = 'n1'): Promise<Error> {
    const error = await LevelDbStorage.open(dir, { nodeId }).then(
      (storage) => {
        openStorages.push(storage);
        return new Error('open succeeded');
      },
      (error: unknown) => error as Error,
    );
    return error;
  }

  it('refuses to open when an entry fails its checksum, naming the index and directory', async () => {
    const dir = await populated();
    await withRawDb(dir, (db) => flipLastByte(db, entryKey(5)));
    const error = await openError(dir);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).index).toBe(5);
    expect(error.message).toContain('entry 5');
    expect(error.message).toContain(dir);
    expect(error.message).toContain('checksum');
  });

  it('refuses to open when an entry is missing from the middle of the log', async () => {
    const dir = await populated();
    await withRawDb(dir, (db) => db.del(entryKey(4)));
    const error = await openError(dir);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).index).toBe(4);
    expect(error.message).toContain(dir);
  });

  it('refuses to open when the hard state is damaged', async () => {
    const dir = await populated();
    await withRawDb(dir, (db) => flipLastByte(db, Uint8Array.of(0x68)));
    const error = await openError(dir);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).index).toBe(-1);
    expect(error.message).toMatch(/hard state is damaged/);
  });

  it('refuses to open when the snapshot data is damaged', async () => {
    const dir = await populated();
    await withRawDb(dir, (db) => flipLastByte(db, Uint8Array.of(0x64)));
    const error = await openError(dir);
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.message).toMatch(/snapshot data is damaged/);
  });

  it("refuses another node's directory", async () => {
    const dir = await populated();
    const error = await openError(dir, 'n2');
    expect(error).toBeInstanceOf(ForeignDataDirError);
    expect(error.message).toContain('belongs to node n1, not n2');
  });

  it('refuses a LevelDB database without a Testudo format record', async () => {
    const dir = await tempDirs.make();
    await withRawDb(dir, (db) => db.put(Uint8Array.of(0x7a), Uint8Array.of(1)));
    expect(await openError(dir)).toBeInstanceOf(ForeignDataDirError);
  });

  it('refuses a directory that is already open', async () => {
    const dir = await tempDirs.make();
    await open(dir);
    const error = await openError(dir);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect(error.message).toBe(`data directory ${dir} is in use by another process`);
  });
});

describe('LevelDbStorage crash safety', () => {
  const writerPath = fileURLToPath(new URL('./fixtures/leveldb-writer.ts', import.meta.url));
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const acksBeforeKill = 200;
  const acksWaitMs = 40_000;

  /** Reads ack lines until `acksBeforeKill`, SIGKILLs the writer, then drains what it had written. */
  async function runAndKill(child: ChildProcess): Promise<{ index: number; term: number }[]> {
    const acks: { index: number; term: number }[] = [];
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const timer = setTimeout(() => child.kill('SIGKILL'), acksWaitMs);
    try {
      for await (const line of createInterface({ input: child.stdout! })) {
        const ack = parseAck(line);
        if (ack === null) throw new Error(`writer printed ${JSON.stringify(line)}`);
        acks.push(ack);
        if (acks.length === acksBeforeKill) child.kill('SIGKILL');
      }
    } finally {
      clearTimeout(timer);
    }
    const signal = await exited;
    expect(signal, `writer stderr: ${stderr}`).toBe('SIGKILL');
    expect(acks.length, `writer stderr: ${stderr}`).toBeGreaterThanOrEqual(acksBeforeKill);
    return acks;
  }

  it('keeps every acknowledged write after SIGKILL of the writer', { timeout: 60_000 }, async () => {
    const dir = await tempDirs.make();
    const child = spawn(process.execPath, ['--import', 'tsx', writerPath, dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const acks = await runAndKill(child);
    const lastAck = acks[acks.length - 1]!;
    const storage = await open(dir, { nodeId: writerNodeId });
    expect(storage.lastIndex()).toBeGreaterThanOrEqual(lastAck.index);
    const { hardState } = storage.initialState();
    expect(hardState.term).toBeGreaterThanOrEqual(lastAck.term);
    expect(hardState.commit).toBeGreaterThanOrEqual(lastAck.index);
    const entries = storage.entries(1, storage.lastIndex() + 1, Infinity);
    expect(entries).toHaveLength(storage.lastIndex());
    for (const e of entries) {
      expect(e.term, `term of entry ${e.index}`).toBe(writerTermForIndex(e.index));
      expect(hex(e.data), `data of entry ${e.index}`).toBe(hex(writerDataForIndex(e.index)));
    }
    for (const ack of acks) expect(storage.term(ack.index)).toBe(ack.term);
  });
});
