import { Level } from 'level';
import { EntryCache } from './entry-cache.js';
import { decodeEntryPayload, decodeRecord, encodeEntry, encodeHardState, encodeLogStart, entryKey, formatVersion, keyHardState, keyLogStart, type LogStart } from './leveldb-records.js';
import { assert, CompactedError, CorruptionError, RaftError, UnavailableError } from '../core/errors.js';
import type { DurableFile } from './durable-file.js';
import type { ObservedDurableState } from './durable-record.js';
import {
  ForeignDataDirError,
  loadState,
  snapshotOps,
  type BatchOp,
  type Db,
  type DurableCheck,
  type DurableCheckMode,
  type LoadedState,
  type StoragePlantedBug,
} from './leveldb-load.js';
import type { Storage } from '../core/storage.js';
import { entryBytes, type ConfState, type Entry, type HardState, type NodeId, type Snapshot } from '../core/types.js';

export { ForeignDataDirError };
export type { DurableCheck, DurableCheckMode, StoragePlantedBug };

/**
 * A node's durable Raft state in LevelDB (`level`, which is classic-level on Node), behind the read-only
 * `Storage` interface the core uses, with the same write methods as
 * `MemoryStorage` made asynchronous.
 *
 * On-disk layout (keys are bytes; LevelDB orders them bytewise, so the
 * big-endian index makes key order equal log order):
 *
 *   'm'                 format record: magic "TSTDRAFT", format version, node id
 *   'h'                 hard state: term, commit, vote
 *   's'                 snapshot metadata: index, term, conf state, data length and CRC
 *   'd'                 snapshot data
 *   'o'                 log start: index and term of the last entry compacted away
 *                       (the "dummy entry" of MemoryStorage); first index is one past it
 *   'e' + u64 BE index  one log entry: term, index, type, data
 *
 * Every value is `crc32c(payload) (u32 BE) ++ payload`, checked on every read.
 * Integers are big-endian; a u64 holds a JavaScript safe integer.
 *
 * Each write is one LevelDB batch with `sync: true` (see `rawBatch`), so a write is either wholly
 * on disk or not at all, and an acknowledged write survives `kill -9`. The
 * in-memory view (term index, entry cache, hard state, snapshot) changes only
 * after the batch resolved, so reads never see a write that is not durable.
 * One write at a time: the driver awaits each before the next.
 *
 * Beside LevelDB, in the same directory, the durable record (`DURABLE`,
 * durable-record.ts) holds the term, vote and last index. `save` rewrites it
 * after a synced batch that raised the term, changed the vote or moved the
 * last index, and before a batch that shortens the log, so it never claims
 * more than LevelDB holds; `save` resolves only after both, so the driver's
 * "persist before send" covers the record too. On open, LevelDB holding less
 * than the record (a truncated or deleted log file, an older copy of the
 * directory) refuses the open with `DurableStateRolledBackError`. Opening
 * (founding, loading, validating, the record's check) is leveldb-load.ts.
 */
export { formatVersion };

/**
 * Called before each synced write of a Ready; the write waits for the promise
 * it returns. null means no wait, and costs no await (the usual case).
 */
export type BeforeSyncedWrite = () => Promise<void> | null;

export class LevelDbStorage implements Storage {
  readonly dir: string;
  readonly nodeId: NodeId;
  private readonly db: Db;
  /** Writes one batch of this storage's log (see `rawBatch`). */
  private readonly batch: RawBatch;
  private hardState: HardState;
  private snap: Snapshot;
  /** Index of the last compacted entry; `firstIndex()` is one past it. */
  private offset: number;
  /** `terms[i - offset]` is the term of entry `i`, for `offset <= i <= lastIndex()`. */
  private terms: number[];
  private readonly cache: EntryCache;
  /** The write in progress; writes run one at a time and close() waits for this one. */
  private inflight: Promise<unknown> | null = null;
  private closing = false;
  private closed = false;
  /** A write whose outcome on disk is unknown; no further write is allowed. */
  private failure: unknown = null;
  private syncedBatchesCount = 0;
  private batchesCount = 0;
  private lastBatchDurationMs = 0;
  private readonly beforeSyncedWrite: BeforeSyncedWrite | undefined;
  /** The durable record's file; null when opened in 'report' mode (no writes). */
  private readonly durable: DurableFile | null;
  readonly durableCheck: DurableCheck;

  private constructor(db: Db, dir: string, nodeId: NodeId, loaded: LoadedState, cacheBytesMax: number, beforeSyncedWrite: BeforeSyncedWrite | undefined) {
    this.db = db;
    this.batch = rawBatch(db);
    this.beforeSyncedWrite = beforeSyncedWrite;
    this.durable = loaded.durable.file;
    this.durableCheck = loaded.durable.check;
    this.dir = dir;
    this.nodeId = nodeId;
    this.hardState = loaded.hardState;
    this.snap = loaded.snapshot;
    this.offset = loaded.logStart.index;
    this.terms = loaded.terms;
    this.cache = new EntryCache(cacheBytesMax);
    for (const entry of loaded.cachedEntries) this.cache.append([entry]);
  }

  /**
   * Opens (or, when `dir` holds no data, initializes) a node's data directory
   * and validates all of it: every record's checksum, a contiguous log, the
   * snapshot against the log, the commit index against the last index. Any
   * damage refuses the open: a node must not start on data it cannot trust.
   *
   * `bootstrapConfState` is the membership of a fresh cluster; when the
   * directory is new, its founding log (`bootstrapState`) is written in the
   * same synced batch as the format record, with `bootstrapContexts` as the
   * founders' conf-change contexts. Both are ignored otherwise. `entryCacheBytesMax`
   * overrides the default cache bound (tests shrink it to exercise disk reads).
   * `beforeSyncedWrite` runs before each synced batch of `save` (chaos hooks
   * only: a slow disk); the write waits for the promise it returns.
   * `durableCheck` (default 'refuse') and `plantedBug` are described with
   * their types.
   */
  static async open(
    dir: string,
    options: {
      nodeId: NodeId;
      bootstrapConfState?: ConfState;
      bootstrapContexts?: ReadonlyMap<NodeId, Uint8Array>;
      entryCacheBytesMax?: number;
      createIfMissing?: boolean;
      beforeSyncedWrite?: BeforeSyncedWrite;
      durableCheck?: DurableCheckMode;
      plantedBug?: StoragePlantedBug;
    },
  ): Promise<LevelDbStorage> {
    assert(options.nodeId !== '', 'a data directory needs a node id');
    const cacheBytesMax = options.entryCacheBytesMax ?? entryCacheBytesMax;
    assert(Number.isInteger(cacheBytesMax) && cacheBytesMax >= 0, `entry cache bound ${cacheBytesMax} is not a byte count`);
    const createIfMissing = options.createIfMissing ?? true;
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing });
    try {
      await db.open();
    } catch (error) {
      throw openError(dir, error, createIfMissing);
    }
    try {
      const mode = { check: options.durableCheck ?? 'refuse', plantedBug: options.plantedBug };
      const loaded = await loadState(db, dir, options, cacheBytesMax, mode);
      return new LevelDbStorage(db, dir, options.nodeId, loaded, cacheBytesMax, options.beforeSyncedWrite);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** Synced batches written since open (a driver's fsync counter). */
  get syncedBatches(): number {
    return this.syncedBatchesCount;
  }

  /** Batches written since open, synced or not. */
  get batches(): number {
    return this.batchesCount;
  }

  /** Durable record writes since open (each one synchronous O_DSYNC write); 0 in 'report' mode. */
  get durableWrites(): number {
    return this.durable?.writes ?? 0;
  }

  /** Wall time of the last synced batch, fsync included. */
  get lastBatchMs(): number {
    return this.lastBatchDurationMs;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError(lo, this.offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.cache.get(i) ?? this.readEntry(i);
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  term(index: number): number {
    if (index < this.offset) throw new CompactedError(index, this.offset + 1);
    const term = this.terms[index - this.offset];
    if (term === undefined) throw new UnavailableError(index, this.lastIndex());
    return term;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.terms.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Persists one Ready's worth of state in one synced batch: a received
   * snapshot newer than ours (which replaces the whole log), the entries (which
   * replace any suffix they conflict with), then the hard state.
   *
   * `sync: false` skips the fsync; only for a Ready whose `mustSync` is false
   * (a commit index that moved, which Raft can always recover from its peers).
   */
  async save(
    update: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null },
    options: { sync?: boolean } = {},
  ): Promise<void> {
    const sync = options.sync ?? true;
    assert(sync || (update.entries.length === 0 && update.snapshot === null), 'entries and snapshots are always written synced');
    await this.exclusive(async (durable) => {
      const plan = this.planSave(update);
      const record = durable.record;
      // The record must never claim more than LevelDB holds, before or after the batch: when the
      // batch replaces the entry the record names, the record first falls back to the last entry kept.
      if (plan.keptIndex < record.lastIndex) {
        await this.writeDurable(durable, { term: record.term, vote: record.vote, lastIndex: plan.keptIndex, lastTerm: this.termOrUnknown(plan.keptIndex) });
      }
      if (sync && plan.ops.length > 0) {
        const wait = this.beforeSyncedWrite?.();
        if (wait !== undefined && wait !== null) await wait;
      }
      await this.writeBatch(plan.ops, sync);
      this.applyPlan(plan);
      const state = this.durableState();
      if (sync) await this.writeDurable(durable, state);
      else assert(!durable.differs(state), 'an unsynced write changed the term, vote or last index');
    });
  }

  async setHardState(hardState: HardState): Promise<void> {
    await this.save({ hardState, entries: [], snapshot: null });
  }

  /** Replaces everything with a snapshot received from the leader, if it is newer. */
  async applySnapshot(snapshot: Snapshot): Promise<void> {
    await this.save({ hardState: null, entries: [], snapshot });
  }

  /** Appends entries, first truncating any suffix they conflict with. */
  async append(entries: readonly Entry[]): Promise<void> {
    await this.save({ hardState: null, entries, snapshot: null });
  }

  /** Records a snapshot of the application's state at applied index `index`. */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    // Neither this nor compact moves the last index, the term or the vote: the record stays.
    return this.exclusive(async () => {
      assert(index > this.snap.metadata.index, `snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
      assert(index <= this.lastIndex(), `snapshot at ${index} is past last index ${this.lastIndex()}`);
      const snapshot: Snapshot = { metadata: { index, term: this.term(index), confState }, data };
      await this.writeBatch(snapshotOps(snapshot));
      this.snap = snapshot;
      return snapshot;
    });
  }

  /** Drops entries up to and including `compactIndex`, which must be snapshotted. */
  async compact(compactIndex: number): Promise<void> {
    await this.exclusive(async () => {
      if (compactIndex <= this.offset) return;
      assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} past last index ${this.lastIndex()}`);
      assert(compactIndex <= this.snap.metadata.index, `compact ${compactIndex} beyond snapshot ${this.snap.metadata.index}`);
      const logStart: LogStart = { index: compactIndex, term: this.term(compactIndex) };
      const ops: BatchOp[] = [{ type: 'put', key: keyLogStart, value: encodeLogStart(logStart) }];
      pushEntryDeletes(ops, this.offset + 1, compactIndex);
      await this.writeBatch(ops);
      this.terms.splice(0, compactIndex - this.offset);
      this.offset = compactIndex;
      this.cache.dropThrough(compactIndex);
    });
  }

  /**
   * Waits for the write in progress, then closes the database. Afterwards the
   * storage takes no writes and no reads that need the disk. Closing twice is
   * harmless.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.inflight?.then(ignore, ignore);
    this.closed = true;
    await this.db.close();
    await this.durable?.close();
  }

  /**
   * Runs one write, refusing a second while it is in progress: each write is
   * planned against the in-memory view, which only changes when a write ends,
   * so overlapping writes would be planned against stale state.
   */
  private async exclusive<T>(write: (durable: DurableFile) => Promise<T>): Promise<T> {
    assert(!this.closing, `data directory ${this.dir} is closed`);
    assert(this.inflight === null, `concurrent writes to data directory ${this.dir}; await each write`);
    assert(this.durable !== null, `data directory ${this.dir} was opened for inspection and takes no writes`);
    if (this.failure !== null) {
      throw new RaftError(`data directory ${this.dir} failed an earlier write; reopen it`, false, { cause: this.failure });
    }
    const result = write(this.durable);
    this.inflight = result;
    try {
      return await result;
    } finally {
      this.inflight = null;
    }
  }

  /** Turns an update into batch operations and asserts the state it leads to. */
  private planSave(update: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null }): SavePlan {
    const ops: BatchOp[] = [];
    let offset = this.offset;
    let lastIndex = this.lastIndex();
    let prevTerm = (index: number): number => this.term(index);
    let snapshot: Snapshot | null = null;
    let keptIndex = lastIndex;
    if (update.snapshot !== null && update.snapshot.metadata.index > this.snap.metadata.index) {
      snapshot = update.snapshot;
      const { index, term } = snapshot.metadata;
      ops.push(...snapshotOps(snapshot), { type: 'put', key: keyLogStart, value: encodeLogStart({ index, term }) });
      pushEntryDeletes(ops, offset + 1, lastIndex);
      keptIndex = Math.min(keptIndex, index - 1);
      offset = index;
      lastIndex = index;
      prevTerm = () => term;
    }
    const entries = entriesPastOffset(update.entries, offset);
    const first = entries[0];
    if (first !== undefined) {
      assert(first.index <= lastIndex + 1, `append at ${first.index} leaves a gap after ${lastIndex}`);
      assertLogOrder(entries, prevTerm(first.index - 1));
      for (const entry of entries) ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
      const last = entries[entries.length - 1]!.index;
      pushEntryDeletes(ops, last + 1, lastIndex);
      keptIndex = Math.min(keptIndex, first.index - 1);
      lastIndex = last;
    }
    if (update.hardState !== null) ops.push({ type: 'put', key: keyHardState, value: encodeHardState(update.hardState) });
    const commit = (update.hardState ?? this.hardState).commit;
    const snapIndex = (snapshot ?? this.snap).metadata.index;
    assert(commit <= lastIndex, `commit ${commit} would pass last index ${lastIndex}`);
    assert(offset <= snapIndex && snapIndex <= lastIndex, `snapshot ${snapIndex} would leave the log [${offset + 1}, ${lastIndex}]`);
    return { ops, snapshot, entries, hardState: update.hardState, lastIndex, keptIndex };
  }

  /** Brings the in-memory view up to a plan whose batch is durable. */
  private applyPlan(plan: SavePlan): void {
    if (plan.snapshot !== null) {
      this.snap = plan.snapshot;
      this.offset = plan.snapshot.metadata.index;
      this.terms = [plan.snapshot.metadata.term];
      this.cache.clear();
    }
    const first = plan.entries[0];
    if (first !== undefined) {
      this.terms.length = first.index - this.offset;
      for (const entry of plan.entries) this.terms.push(entry.term);
      this.cache.append(plan.entries);
    }
    if (plan.hardState !== null) this.hardState = plan.hardState;
  }

  /** What the durable record holds, taken from the in-memory view (which is durable). */
  private durableState(): ObservedDurableState {
    const lastIndex = this.lastIndex();
    return { term: this.hardState.term, vote: this.hardState.vote, lastIndex, lastTerm: this.term(lastIndex) };
  }

  /** The term at `index`, or 0 (unknown to the record) when it is compacted away. */
  private termOrUnknown(index: number): number {
    return index < this.offset ? 0 : this.term(index);
  }

  private async writeDurable(durable: DurableFile, state: ObservedDurableState): Promise<void> {
    try {
      await durable.write(state);
    } catch (error) {
      this.failure = error;
      throw error;
    }
  }

  private async writeBatch(ops: BatchOp[], sync = true): Promise<void> {
    if (ops.length === 0) return;
    const startMs = performance.now();
    try {
      await this.batch(ops, { sync });
    } catch (error) {
      this.failure = error;
      throw error;
    }
    this.lastBatchDurationMs = performance.now() - startMs;
    this.batchesCount++;
    if (sync) this.syncedBatchesCount++;
  }

  /** Reads an entry that fell out of the cache, checking it against the term index. */
  private readEntry(index: number): Entry {
    assert(!this.closed, `data directory ${this.dir} is closed`);
    const what = `entry ${index}`;
    const entry = decodeRecord(this.dir, index, what, this.db.getSync(entryKey(index)), decodeEntryPayload);
    if (entry.index !== index || entry.term !== this.terms[index - this.offset]) {
      throw new CorruptionError(index, `data directory ${this.dir}: ${what} holds index ${entry.index} term ${entry.term}, expected term ${this.terms[index - this.offset]}`);
    }
    return entry;
  }
}

/** Default upper bound on the bytes (by `entryBytes`) of recent entries kept in memory. */
export const entryCacheBytesMax = 16 * 1024 * 1024;

/** The on-disk format this build reads and writes. */

/** Another process (or another open in this one) holds the directory's LevelDB lock. */
export class DataDirLockedError extends RaftError {
  override readonly name = 'DataDirLockedError';
  readonly dir: string;

  constructor(dir: string, options?: { cause?: unknown }) {
    // Retryable: the open may succeed once the other holder exits.
    super(`data directory ${dir} is in use by another process`, true, options);
    this.dir = dir;
  }
}

function ignore(): void {}

type RawBatch = (ops: BatchOp[], options: { sync: boolean }) => Promise<void>;

/**
 * The batch write of the database itself (classic-level's `_batch`, the
 * abstract-level interface a store implements), without the public
 * `batch()` around it: that clones every operation, checks and encodes its
 * key and value, and looks for hooks and listeners, about 4% of a loaded
 * leader's event loop (docs/bench/raft-profile-2026-12-03.md). None of it
 * applies here: keys and values are already Uint8Arrays in the stored
 * format ('view'), nothing hooks or listens, and the storage itself refuses
 * writes before open and after close (`exclusive`). A store without it gets
 * the public `batch()`.
 */
function rawBatch(db: Db): RawBatch {
  const raw = (db as unknown as { _batch?: unknown })._batch;
  if (typeof raw !== 'function') return (ops, options) => db.batch(ops, options);
  return (ops, options) => (raw as RawBatch).call(db, ops, options);
}

interface SavePlan {
  readonly ops: BatchOp[];
  /** The received snapshot when it replaces ours, else null. */
  readonly snapshot: Snapshot | null;
  /** The entries actually appended (those at or below the log start dropped). */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** The last index once the batch is written. */
  readonly lastIndex: number;
  /** The last index whose entry the batch leaves as it was (it replaces or drops every later one). */
  readonly keptIndex: number;
}

/** Entries that continue a log starting after `offset`; those already compacted are committed and skipped. */
function entriesPastOffset(entries: readonly Entry[], offset: number): readonly Entry[] {
  const first = entries[0];
  if (first === undefined || entries[entries.length - 1]!.index <= offset) return [];
  return first.index <= offset ? entries.slice(offset + 1 - first.index) : entries;
}

/** A Raft log is contiguous and its terms never decrease; a write that breaks this is a core bug. */
function assertLogOrder(entries: readonly Entry[], prevTerm: number): void {
  let expectedIndex = entries[0]!.index;
  let term = prevTerm;
  for (const entry of entries) {
    assert(entry.index === expectedIndex, `entries not contiguous: ${entry.index} where ${expectedIndex} was due`);
    assert(entry.term >= term, `entry ${entry.index} has term ${entry.term} below the preceding term ${term}`);
    expectedIndex++;
    term = entry.term;
  }
}

function pushEntryDeletes(ops: BatchOp[], from: number, through: number): void {
  for (let i = from; i <= through; i++) ops.push({ type: 'del', key: entryKey(i) });
}

function openError(dir: string, error: unknown, createIfMissing: boolean): unknown {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'LEVEL_LOCKED') return new DataDirLockedError(dir, { cause: error });
  const topCode = (error as { code?: unknown } | null)?.code;
  if (!createIfMissing && (code === 'LEVEL_DATABASE_NOT_OPEN' || topCode === 'LEVEL_DATABASE_NOT_OPEN')) {
    return new ForeignDataDirError(dir, 'holds no Testudo data (no LevelDB database there)');
  }
  if (code === 'LEVEL_CORRUPTION') return new CorruptionError(-1, `data directory ${dir}: LevelDB reports corruption`, { cause: error });
  return error;
}
