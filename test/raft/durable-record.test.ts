import { cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/raft/crc32c.js';
import { DurableFile, durableFileName } from '../../src/raft/storage/durable-file.js';
import { checkDurableState, decodeDurableRecord, durableRecordBytes, encodeDurableRecord, DurableRecordError } from '../../src/raft/storage/durable-record.js';
import { CorruptionError, DurableStateRolledBackError } from '../../src/raft/core/errors.js';
import { LevelDbStorage, type StoragePlantedBug } from '../../src/raft/storage/leveldb-storage.js';
import { EntryType, type ConfState, type Entry } from '../../src/raft/core/types.js';
import { TempDirs } from './fixtures/temp-dirs.js';

const tempDirs = new TempDirs('testudo-durable');
const openStorages: LevelDbStorage[] = [];

afterEach(async () => {
  await Promise.all(openStorages.splice(0).map((storage) => storage.close()));
  await tempDirs.removeAll();
});

const voters: ConfState = { voters: ['n1', 'n2', 'n3'], learners: [] };
/** Bytes per entry: enough that a few hundred entries make a LevelDB log file worth truncating. */
const entryDataBytes = 1000;

function run(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push({ index: i, term, type: EntryType.Normal, data: new Uint8Array(entryDataBytes).fill(i % 251) });
  return out;
}

async function open(dir: string, options: { plantedBug?: StoragePlantedBug; bootstrap?: boolean } = {}): Promise<LevelDbStorage> {
  const storage = await LevelDbStorage.open(dir, {
    nodeId: 'n1',
    ...(options.bootstrap === false ? {} : { bootstrapConfState: voters }),
    ...(options.plantedBug === undefined ? {} : { plantedBug: options.plantedBug }),
  });
  openStorages.push(storage);
  return storage;
}

async function openError(dir: string): Promise<Error> {
  return LevelDbStorage.open(dir, { nodeId: 'n1', bootstrapConfState: voters }).then(
    (storage) => {
      openStorages.push(storage);
      return new Error('open succeeded');
    },
    (error: unknown) => error as Error,
  );
}

async function close(storage: LevelDbStorage): Promise<void> {
  openStorages.splice(openStorages.indexOf(storage), 1);
  await storage.close();
}

/** A closed directory holding term 7, vote n2 and entries 1..400, all written by synced batches. */
async function populated(): Promise<string> {
  const dir = await tempDirs.make();
  const storage = await open(dir);
  for (let lo = 4; lo <= 400; lo += 99) {
    const hi = Math.min(lo + 98, 400);
    await storage.save({ hardState: { term: lo < 300 ? 5 : 7, vote: lo < 300 ? 'n3' : 'n2', commit: hi }, entries: run(lo, hi, lo < 300 ? 5 : 7), snapshot: null });
  }
  expect(storage.lastIndex()).toBe(400);
  await close(storage);
  return dir;
}

/**
 * Opens a store whose next synced batch, once armed, first copies the
 * directory to `crashImage`: the directory as a crash after the record's
 * pre-write and before the batch would leave it.
 */
async function openWithCrashImage(dir: string, crashImage: string): Promise<{ storage: LevelDbStorage; arm: () => void; crashed: () => boolean }> {
  let armed = false;
  let crashed = false;
  const storage = await LevelDbStorage.open(dir, {
    nodeId: 'n1',
    bootstrapConfState: voters,
    beforeSyncedWrite: () => {
      if (!armed) return null;
      armed = false;
      return cp(dir, crashImage, { recursive: true }).then(() => void (crashed = true));
    },
  });
  openStorages.push(storage);
  return { storage, arm: () => void (armed = true), crashed: () => crashed };
}

/** The LevelDB write-ahead log files of a directory (no compaction has run at these sizes, so they hold everything). */
async function leveldbLogs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.log')).map((name) => join(dir, name));
}

describe('the durable record file', () => {
  it('round-trips, and a damaged, short or long file is refused by name', async () => {
    const dir = await tempDirs.make();
    const file = await DurableFile.create(dir, { term: 3, vote: 'n2', lastIndex: 17, lastTerm: 3 });
    await file.write({ term: 4, vote: '', lastIndex: 17, lastTerm: 3 });
    await file.write({ term: 4, vote: '', lastIndex: 17, lastTerm: 3 });
    expect(file.writes).toBe(1);
    await file.close();
    expect(await DurableFile.read(dir)).toEqual({ term: 4, vote: '', lastIndex: 17, lastTerm: 3, sequence: 1 });
    const path = join(dir, durableFileName);
    expect((await stat(path)).size).toBe(durableRecordBytes);
    const bytes = await readFile(path);
    bytes[15]! ^= 0x40;
    await writeFile(path, bytes);
    await expect(DurableFile.read(dir)).rejects.toThrow(/checksum mismatch/);
    await writeFile(path, encodeDurableRecord({ term: 1, vote: 'n1', lastIndex: 2, lastTerm: 1, sequence: 0 }).subarray(0, 100));
    await expect(DurableFile.read(dir)).rejects.toBeInstanceOf(DurableRecordError);
    await writeFile(path, Buffer.concat([encodeDurableRecord({ term: 1, vote: 'n1', lastIndex: 2, lastTerm: 1, sequence: 0 }), Buffer.of(0)]));
    await expect(DurableFile.read(dir)).rejects.toThrow(/bytes, expected/);
    await rm(path);
    expect(await DurableFile.read(dir)).toBeNull();
  });

  it('the pure check names each thing that went back', () => {
    const record = decodeDurableRecord(encodeDurableRecord({ term: 9, vote: 'n3', lastIndex: 50, lastTerm: 9, sequence: 4 }));
    const log = (termAt50: number) => (index: number) => (index === 50 ? termAt50 : null);
    expect(checkDurableState(record, { term: 9, vote: 'n3', lastIndex: 50, lastTerm: 9 }, log(9))).toBeNull();
    expect(checkDurableState(record, { term: 10, vote: '', lastIndex: 60, lastTerm: 10 }, log(9))).toBeNull();
    // Compacted away: nothing to compare the term with.
    expect(checkDurableState(record, { term: 10, vote: '', lastIndex: 60, lastTerm: 10 }, () => null)).toBeNull();
    expect(checkDurableState(record, { term: 9, vote: 'n3', lastIndex: 50, lastTerm: 8 }, log(8))).toEqual([
      'the entry at index 50 has term 8 but one of term 9 was acknowledged as durable (an overwritten suffix came back)',
    ]);
    expect(checkDurableState(record, { term: 9, vote: 'n1', lastIndex: 49, lastTerm: 9 }, () => null)).toEqual([
      'the vote in term 9 changed from n3 to n1',
      'the log ends at index 49 but index 50 was acknowledged as durable (1 entries missing)',
    ]);
    expect(checkDurableState(record, { term: 8, vote: 'n3', lastIndex: 50, lastTerm: 9 }, log(9))).toEqual(['term went back from 9 to 8']);
  });
});

describe('LevelDbStorage keeps the durable record', () => {
  it('writes it in the initializing step and after each batch that changes what it holds, and only then', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 1, vote: '', lastIndex: 3 });
    await storage.save({ hardState: { term: 2, vote: 'n2', commit: 3 }, entries: run(4, 5, 2), snapshot: null });
    expect(storage.durableWrites).toBe(1);
    // A commit index that moved, synced or not, changes nothing the record holds.
    await storage.save({ hardState: { term: 2, vote: 'n2', commit: 4 }, entries: [], snapshot: null }, { sync: false });
    await storage.setHardState({ term: 2, vote: 'n2', commit: 5 });
    await storage.createSnapshot(4, voters, Uint8Array.of(1));
    await storage.compact(3);
    expect(storage.durableWrites).toBe(1);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 2, vote: 'n2', lastIndex: 5, sequence: 1 });
    await storage.setHardState({ term: 3, vote: '', commit: 5 });
    expect(storage.durableWrites).toBe(2);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 3, vote: '', lastIndex: 5 });
  });

  it('records a shorter log before the batch that shortens it (conflicting append, older snapshot install)', async () => {
    const dir = await tempDirs.make();
    const storage = await open(dir);
    await storage.save({ hardState: { term: 2, vote: 'n2', commit: 3 }, entries: run(4, 10, 2), snapshot: null });
    await storage.save({ hardState: { term: 3, vote: 'n3', commit: 3 }, entries: run(6, 7, 3), snapshot: null });
    expect(storage.durableWrites).toBe(3);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 3, vote: 'n3', lastIndex: 7 });
    // A snapshot whose index is below the last index, with a term that does not match, replaces the log.
    await storage.applySnapshot({ metadata: { index: 5, term: 4, confState: voters }, data: Uint8Array.of(9) });
    expect(storage.lastIndex()).toBe(5);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 3, vote: 'n3', lastIndex: 5 });
    await close(storage);
    expect((await open(dir)).lastIndex()).toBe(5);
  });

  it('leaves a node that crashed between the shorter record and the truncating batch free to start', async () => {
    const dir = await tempDirs.make();
    const crashImage = await tempDirs.make();
    const { storage, arm, crashed } = await openWithCrashImage(dir, crashImage);
    await storage.save({ hardState: { term: 2, vote: 'n2', commit: 3 }, entries: run(4, 10, 2), snapshot: null });
    arm();
    await storage.save({ hardState: { term: 3, vote: 'n3', commit: 3 }, entries: run(6, 7, 3), snapshot: null });
    expect(crashed()).toBe(true);
    await rm(join(crashImage, 'LOCK'));
    // Lowered to the last entry the batch keeps (index 5, the batch replaces 6 on).
    expect(await DurableFile.read(crashImage)).toMatchObject({ term: 2, vote: 'n2', lastIndex: 5, lastTerm: 2 });
    const restarted = await open(crashImage);
    expect(restarted.lastIndex()).toBe(10);
    expect(restarted.initialState().hardState).toMatchObject({ term: 2, vote: 'n2' });
    // The record catches up with what LevelDB holds on open.
    expect(await DurableFile.read(crashImage)).toMatchObject({ term: 2, vote: 'n2', lastIndex: 10 });
  });

  it('is left alone by LevelDB across reopens and a memtable flush', async () => {
    const dir = await tempDirs.make();
    let storage = await open(dir);
    // More than LevelDB's 4 MiB write buffer, so it writes a table and deletes obsolete files.
    for (let lo = 4; lo < 6000; lo += 500) await storage.save({ hardState: { term: 2, vote: 'n1', commit: 0 }, entries: run(lo, lo + 499, 2), snapshot: null });
    await close(storage);
    storage = await open(dir);
    expect((await readdir(dir)).some((name) => name.endsWith('.ldb'))).toBe(true);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 2, vote: 'n1', lastIndex: 6003 });
    expect(storage.lastIndex()).toBe(6003);
  });
});

describe('LevelDbStorage refuses storage older than its durable record', () => {
  it("refuses a truncated LevelDB log file (the issue's `truncate -s`), naming what went back", async () => {
    const dir = await populated();
    const [log] = await leveldbLogs(dir);
    const { size } = await stat(log!);
    await truncate(log!, Math.floor(size / 2));
    const error = await openError(dir);
    expect(error).toBeInstanceOf(DurableStateRolledBackError);
    expect((error as DurableStateRolledBackError).dir).toBe(dir);
    expect(error.message).toMatch(/term went back from 7 to 5/);
    expect(error.message).toMatch(/the log ends at index \d+ but index 400 was acknowledged as durable/);
  });

  it('the planted bug (no check) opens the same truncated directory with the rollback unnoticed', async () => {
    const dir = await populated();
    const [log] = await leveldbLogs(dir);
    await truncate(log!, Math.floor((await stat(log!)).size / 2));
    const storage = await open(dir, { plantedBug: 'skip-durable-check' });
    expect(storage.lastIndex()).toBeLessThan(400);
    expect(storage.initialState().hardState.term).toBe(5);
  });

  it('refuses a deleted LevelDB log file: an empty database is not a new node', async () => {
    const dir = await populated();
    for (const log of await leveldbLogs(dir)) await rm(log);
    const error = await openError(dir);
    expect(error).toBeInstanceOf(DurableStateRolledBackError);
    expect(error.message).toMatch(/LevelDB database is empty/);
    expect(error.message).toMatch(/index 400 was acknowledged/);
  });

  it('refuses a deleted record', async () => {
    const dir = await populated();
    await rm(join(dir, durableFileName));
    const error = await openError(dir);
    expect(error).toBeInstanceOf(DurableStateRolledBackError);
    expect(error.message).toMatch(/durable record DURABLE is missing/);
  });

  it('refuses a damaged record', async () => {
    const dir = await populated();
    const path = join(dir, durableFileName);
    const bytes = await readFile(path);
    bytes[22]! ^= 0x01;
    await writeFile(path, bytes);
    const error = await openError(dir);
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.message).toMatch(/durable record DURABLE is damaged: durable record checksum mismatch/);
  });

  it('refuses the whole directory rolled back to an older copy while the record is newer', async () => {
    const dir = await tempDirs.make();
    const older = await tempDirs.make();
    const storage = await open(dir);
    await storage.save({ hardState: { term: 2, vote: 'n3', commit: 3 }, entries: run(4, 20, 2), snapshot: null });
    await close(storage);
    await cp(dir, older, { recursive: true });
    const again = await open(dir);
    await again.save({ hardState: { term: 4, vote: 'n2', commit: 20 }, entries: run(21, 40, 4), snapshot: null });
    await close(again);
    const newerRecord = await readFile(join(dir, durableFileName));
    // The old copy comes back, but the record keeps its newer state.
    await rm(dir, { recursive: true });
    await cp(older, dir, { recursive: true });
    await writeFile(join(dir, durableFileName), newerRecord);
    const error = await openError(dir);
    expect(error).toBeInstanceOf(DurableStateRolledBackError);
    expect((error as DurableStateRolledBackError).problems).toEqual([
      'term went back from 4 to 2',
      'the log ends at index 20 but index 40 was acknowledged as durable (20 entries missing)',
    ]);
  });

  it('refuses a vote forgotten in the same term', async () => {
    const dir = await populated();
    await writeFile(join(dir, durableFileName), encodeDurableRecord({ term: 7, vote: 'n3', lastIndex: 400, lastTerm: 7, sequence: 9 }));
    const error = await openError(dir);
    expect((error as DurableStateRolledBackError).problems).toEqual(['the vote in term 7 changed from n3 to n2']);
  });

  it('accepts a fresh directory whose initialization crashed after writing its record', async () => {
    const dir = await tempDirs.make();
    await (await DurableFile.create(dir, { term: 1, vote: '', lastIndex: 3, lastTerm: 1 })).close();
    const storage = await open(dir);
    expect(storage.lastIndex()).toBe(3);
  });
});

describe('an overwritten suffix that comes back', () => {
  it('is refused by the last entry term even when the term, the vote and the length match', async () => {
    const dir = await tempDirs.make();
    const older = await tempDirs.make();
    const storage = await open(dir);
    await storage.save({ hardState: { term: 5, vote: 'n2', commit: 3 }, entries: run(4, 20, 5), snapshot: null });
    // n2 wins term 6 with this node's vote; nothing of term 6 is written yet.
    await storage.save({ hardState: { term: 6, vote: 'n2', commit: 10 }, entries: [], snapshot: null });
    await close(storage);
    await cp(dir, older, { recursive: true });
    const again = await open(dir);
    // The term-6 leader replaces 11..20 with as many entries of its own.
    await again.save({ hardState: null, entries: run(11, 20, 6), snapshot: null });
    await close(again);
    const newerRecord = await readFile(join(dir, durableFileName));
    expect(decodeDurableRecord(newerRecord)).toMatchObject({ term: 6, vote: 'n2', lastIndex: 20, lastTerm: 6 });
    await rm(dir, { recursive: true });
    await cp(older, dir, { recursive: true });
    await writeFile(join(dir, durableFileName), newerRecord);
    const error = await openError(dir);
    expect(error).toBeInstanceOf(DurableStateRolledBackError);
    expect((error as DurableStateRolledBackError).problems).toEqual([
      'the entry at index 20 has term 5 but one of term 6 was acknowledged as durable (an overwritten suffix came back)',
    ]);
    // The planted bug (the check skipped) opens it: the test can fail.
    expect((await open(dir, { plantedBug: 'skip-durable-check' })).lastIndex()).toBe(20);
  });

  it('is lowered to the last kept entry before a same-length overwrite, so a crash in between opens', async () => {
    const dir = await tempDirs.make();
    const crashImage = await tempDirs.make();
    const { storage, arm } = await openWithCrashImage(dir, crashImage);
    await storage.save({ hardState: { term: 5, vote: 'n2', commit: 3 }, entries: run(4, 20, 5), snapshot: null });
    arm();
    await storage.save({ hardState: null, entries: run(11, 20, 6), snapshot: null });
    await rm(join(crashImage, 'LOCK'));
    expect(await DurableFile.read(crashImage)).toMatchObject({ lastIndex: 10, lastTerm: 5 });
    expect((await open(crashImage)).lastIndex()).toBe(20);
  });
});

describe('LevelDbStorage migrates the previous format', () => {
  /** Turns a current directory into the previous format: format record version 1, no durable record. */
  async function makePreviousFormat(dir: string): Promise<void> {
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const meta = Uint8Array.from((await db.get(Uint8Array.of(0x6d)))!);
    const view = new DataView(meta.buffer);
    // crc u32, magic 8 bytes, version u32 at 12.
    expect(view.getUint32(12)).toBe(2);
    view.setUint32(12, 1);
    view.setUint32(0, crc32c(meta.subarray(4)));
    await db.put(Uint8Array.of(0x6d), meta, { sync: true });
    await db.close();
    await rm(join(dir, durableFileName));
  }

  it('writes the record of a previous-format directory once, from its state, and refuses a missing record afterwards', async () => {
    const dir = await populated();
    await makePreviousFormat(dir);
    const storage = await open(dir);
    expect(storage.durableCheck.migratedFrom).toBe(1);
    expect(await DurableFile.read(dir)).toMatchObject({ term: 7, vote: 'n2', lastIndex: 400 });
    await close(storage);
    const again = await open(dir);
    expect(again.durableCheck.migratedFrom).toBeNull();
    await close(again);
    await rm(join(dir, durableFileName));
    expect(await openError(dir)).toBeInstanceOf(DurableStateRolledBackError);
  });
});
