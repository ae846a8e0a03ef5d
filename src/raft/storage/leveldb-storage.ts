import { Level } from 'level';
import { bootstrapState } from '../core/bootstrap.js';
import { EntryCache } from './entry-cache.js';
import {
  decodeEntryKey,
  decodeEntryPayload,
  decodeHardStatePayload,
  decodeLogStartPayload,
  decodeMetaPayload,
  decodeRecord,
  decodeSnapshotMetaPayload,
  encodeEntry,
  encodeHardState,
  encodeLogStart,
  encodeMeta,
  encodeSnapshotMeta,
  entryKey,
  entryKeyPrefix,
  formatVersion,
  keyHardState,
  keyLogStart,
  keyMeta,
  keySnapshotData,
  keySnapshotMeta,
  previousFormatVersion,
  readCrc,
  seal,
  type LogStart,
} from './leveldb-records.js';
import { assert, CompactedError, CorruptionError, DurableStateRolledBackError, RaftError, UnavailableError } from '../core/errors.js';
import { DurableFile, durableFileName } from './durable-file.js';
import { checkDurableState, DurableRecordError, type DurableRecord, type ObservedDurableState } from './durable-record.js';
import type { Storage } from '../core/storage.js';
import {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  entryBytes,
  type ConfState,
  type Entry,
  type HardState,
  type NodeId,
  type Snapshot,
} from '../core/types.js';

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
 * directory) refuses the open with `DurableStateRolledBackError`.
 */
export { formatVersion };

/**
 * Called before each synced write of a Ready; the write waits for the promise
 * it returns. null means no wait, and costs no await (the usual case).
 */
export type BeforeSyncedWrite = () => Promise<void> | null;

/**
 * How `open` treats the durable record. 'refuse' (a node): storage older than
 * the record, or a damaged or missing record, throws. 'report' (inspection):
 * such problems are returned in `durableCheck` and the storage takes no
 * writes, so nothing in the directory is changed on its account.
 */
export type DurableCheckMode = 'refuse' | 'report';

/** What `open` found when it compared LevelDB with the durable record. */
export interface DurableCheck {
  /** The record as found on open; null when there was none (a new or previous-format directory) or it was damaged. */
  readonly record: DurableRecord | null;
  /** One sentence per thing that went back; non-empty only in 'report' mode. */
  readonly problems: readonly string[];
  /** The format version of a directory migrated by this open (its record written from its state), else null. */
  readonly migratedFrom: number | null;
}

/**
 * A bug planted on purpose, for tests that prove the rollback check can fail:
 * 'skip-durable-check' opens rolled-back storage as if nothing were missing
 * (and lowers the record to match), as a build without the check would.
 */
export type StoragePlantedBug = 'skip-durable-check';

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

/** A data directory that is not this node's: another node's, or not Testudo's. */
export class ForeignDataDirError extends RaftError {
  override readonly name = 'ForeignDataDirError';
  readonly dir: string;

  constructor(dir: string, message: string) {
    super(`data directory ${dir}: ${message}`, false);
    this.dir = dir;
  }
}

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

type Db = Level<Uint8Array, Uint8Array>;

function ignore(): void {}

type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

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

interface LoadedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly logStart: LogStart;
  readonly terms: number[];
  readonly cachedEntries: readonly Entry[];
  readonly durable: { readonly file: DurableFile | null; readonly check: DurableCheck };
}

interface OpenMode {
  readonly check: DurableCheckMode;
  readonly plantedBug: StoragePlantedBug | undefined;
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

function snapshotOps(snapshot: Snapshot): BatchOp[] {
  const data = seal(snapshot.data);
  return [
    { type: 'put', key: keySnapshotMeta, value: encodeSnapshotMeta(snapshot, readCrc(data)) },
    { type: 'put', key: keySnapshotData, value: data },
  ];
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

// ---------------------------------------------------------------------------
// Loading and validation

async function loadState(
  db: Db,
  dir: string,
  { nodeId, bootstrapConfState, bootstrapContexts }: { nodeId: NodeId; bootstrapConfState?: ConfState; bootstrapContexts?: ReadonlyMap<NodeId, Uint8Array> },
  cacheBytesMax: number,
  mode: OpenMode,
): Promise<LoadedState> {
  const metaValue = await db.get(keyMeta);
  if (metaValue === undefined) {
    const anyKeys = await db.keys({ limit: 1 }).all();
    if (anyKeys.length > 0) throw new ForeignDataDirError(dir, 'holds a LevelDB database without a Testudo format record');
    const founding = bootstrapConfState === undefined ? { hardState: EMPTY_HARD_STATE, entries: [] } : bootstrapState(bootstrapConfState, bootstrapContexts);
    const file = await prepareFreshRecord(dir, mode, { term: founding.hardState.term, vote: founding.hardState.vote, lastIndex: founding.entries.length, lastTerm: founding.entries.at(-1)?.term ?? 0 });
    try {
      return { ...(await initialize(db, nodeId, founding)), durable: { file, check: { record: null, problems: [], migratedFrom: null } } };
    } catch (error) {
      await file.close();
      throw error;
    }
  }
  const version = checkMeta(dir, nodeId, decodeRecord(dir, -1, 'format record', metaValue, decodeMetaPayload));
  const validated = await loadValidated(db, dir, cacheBytesMax);
  const { hardState, logStart, terms } = validated;
  const lastIndex = logStart.index + terms.length - 1;
  const observed = { term: hardState.term, vote: hardState.vote, lastIndex, lastTerm: terms[terms.length - 1]! };
  const termAt = (index: number): number | null => (index < logStart.index || index > lastIndex ? null : terms[index - logStart.index]!);
  const durable = await openDurable(db, dir, { nodeId, version, observed, termAt }, mode);
  return { ...validated, durable };
}

/** Reads every record and checks them against each other; any damage is a CorruptionError. */
async function loadValidated(db: Db, dir: string, cacheBytesMax: number): Promise<Omit<LoadedState, 'durable'>> {
  const hardState = decodeRecord(dir, -1, 'hard state', await db.get(keyHardState), decodeHardStatePayload);
  const snapshot = await loadSnapshot(db, dir);
  const logStart = decodeRecord(dir, -1, 'log start record', await db.get(keyLogStart), decodeLogStartPayload);
  const { terms, cachedEntries } = await scanLog(db, dir, logStart, cacheBytesMax);
  const lastIndex = logStart.index + terms.length - 1;
  const snapIndex = snapshot.metadata.index;
  if (snapIndex < logStart.index || snapIndex > lastIndex) {
    throw new CorruptionError(-1, `data directory ${dir}: snapshot index ${snapIndex} lies outside the log [${logStart.index + 1}, ${lastIndex}]`);
  }
  const termAtSnap = terms[snapIndex - logStart.index];
  if (termAtSnap !== snapshot.metadata.term) {
    throw new CorruptionError(snapIndex, `data directory ${dir}: snapshot term ${snapshot.metadata.term} differs from log term ${termAtSnap} at index ${snapIndex}`);
  }
  if (hardState.commit > lastIndex) {
    throw new CorruptionError(-1, `data directory ${dir}: hard state commit ${hardState.commit} is past last index ${lastIndex}`);
  }
  return { hardState, snapshot, logStart, terms, cachedEntries };
}

/**
 * Before a fresh directory's first batch, writes its durable record with the
 * state that batch will hold. A record already there is either left by an
 * initialization that crashed before its batch (it then claims no more than
 * the founding state) or proof that this node held more before its LevelDB
 * files were deleted: refused.
 */
async function prepareFreshRecord(dir: string, mode: OpenMode, founding: ObservedDurableState): Promise<DurableFile> {
  const existing = await readRecordOrRefuse(dir);
  // An empty database holds no entry: only the index and the term can be compared.
  const problems = existing === null ? null : checkDurableState(existing, founding, () => null);
  const refused = problems !== null && (mode.check === 'report' || mode.plantedBug !== 'skip-durable-check');
  if (refused) throw new DurableStateRolledBackError(dir, ['the LevelDB database is empty (its files were deleted, or its log file truncated to nothing)', ...problems]);
  // Inspection creates nothing: an empty database with no record holds no Testudo data.
  if (mode.check === 'report') throw new ForeignDataDirError(dir, 'holds no Testudo data (an empty LevelDB database)');
  return DurableFile.create(dir, founding);
}

/** Writes the records of a fresh directory in one synced batch: all of them or none. */
async function initialize(
  db: Db,
  nodeId: NodeId,
  founding: { hardState: HardState; entries: readonly Entry[] },
): Promise<Omit<LoadedState, 'durable'>> {
  const logStart: LogStart = { index: 0, term: 0 };
  const ops: BatchOp[] = [
    { type: 'put', key: keyMeta, value: encodeMeta(nodeId) },
    { type: 'put', key: keyHardState, value: encodeHardState(founding.hardState) },
    ...snapshotOps(EMPTY_SNAPSHOT),
    { type: 'put', key: keyLogStart, value: encodeLogStart(logStart) },
    ...founding.entries.map((entry): BatchOp => ({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) })),
  ];
  await db.batch(ops, { sync: true });
  return { hardState: founding.hardState, snapshot: EMPTY_SNAPSHOT, logStart, terms: [0, ...founding.entries.map((e) => e.term)], cachedEntries: founding.entries };
}

/** Checks the format record; returns its version (this build's or the previous one, which `openDurable` migrates). */
function checkMeta(dir: string, nodeId: NodeId, meta: { magicOk: boolean; version: number; nodeId: NodeId }): number {
  if (!meta.magicOk) throw new ForeignDataDirError(dir, 'format record is not Testudo Raft storage');
  if (meta.version !== formatVersion && meta.version !== previousFormatVersion) {
    throw new ForeignDataDirError(dir, `format version ${meta.version}; this build reads versions ${previousFormatVersion} and ${formatVersion}`);
  }
  if (meta.nodeId !== nodeId) {
    throw new ForeignDataDirError(dir, `belongs to node ${meta.nodeId}, not ${nodeId}`);
  }
  return meta.version;
}

/** The record in `dir`, or null; a damaged one refuses the open (it cannot vouch for anything). */
async function readRecordOrRefuse(dir: string): Promise<DurableRecord | null> {
  try {
    return await DurableFile.read(dir);
  } catch (error) {
    if (!(error instanceof DurableRecordError)) throw error;
    throw new CorruptionError(-1, `data directory ${dir}: the durable record ${durableFileName} is damaged: ${error.message}`, { cause: error });
  }
}

/**
 * Compares what LevelDB holds (`observed`) with the durable record and opens
 * the record for writes. A directory of the previous format without a record
 * is migrated: its record is written from its state, then its format record
 * is raised (a crash in between leaves a record the next open checks).
 */
async function openDurable(
  db: Db,
  dir: string,
  found: { nodeId: NodeId; version: number; observed: ObservedDurableState; termAt: (index: number) => number | null },
  mode: OpenMode,
): Promise<LoadedState['durable']> {
  const report = (record: DurableRecord | null, problems: string[]): LoadedState['durable'] => ({ file: null, check: { record, problems, migratedFrom: null } });
  let record: DurableRecord | null;
  try {
    record = await DurableFile.read(dir);
  } catch (error) {
    if (!(error instanceof DurableRecordError)) throw error;
    const problem = `the durable record ${durableFileName} is damaged: ${error.message}`;
    if (mode.check === 'report') return report(null, [problem]);
    throw new CorruptionError(-1, `data directory ${dir}: ${problem}`, { cause: error });
  }
  if (record === null && found.version === formatVersion) {
    const problem = `the durable record ${durableFileName} is missing (format ${formatVersion} always writes it: the directory was partly deleted, or restored from a copy without it)`;
    if (mode.check === 'report') return report(null, [problem]);
    if (mode.plantedBug !== 'skip-durable-check') throw new DurableStateRolledBackError(dir, [problem]);
  }
  const problems = record === null ? [] : (checkDurableState(record, found.observed, found.termAt) ?? []);
  if (mode.check === 'report') return report(record, problems);
  if (problems.length > 0 && mode.plantedBug !== 'skip-durable-check') throw new DurableStateRolledBackError(dir, problems);
  const file = record === null ? await DurableFile.create(dir, found.observed) : await DurableFile.openExisting(dir, record);
  try {
    // LevelDB may be past the record (a crash after a batch, before its record write): catch the record up.
    await file.write(found.observed);
    if (found.version !== formatVersion) await db.put(keyMeta, encodeMeta(found.nodeId), { sync: true });
  } catch (error) {
    await file.close();
    throw error;
  }
  return { file, check: { record, problems: [], migratedFrom: found.version === formatVersion ? null : found.version } };
}

async function loadSnapshot(db: Db, dir: string): Promise<Snapshot> {
  const meta = decodeRecord(dir, -1, 'snapshot metadata', await db.get(keySnapshotMeta), decodeSnapshotMetaPayload);
  const dataValue = await db.get(keySnapshotData);
  const data = decodeRecord(dir, -1, 'snapshot data', dataValue, (reader) => reader.rest());
  if (data.byteLength !== meta.dataBytes || readCrc(dataValue!) !== meta.dataCrc) {
    throw new CorruptionError(-1, `data directory ${dir}: snapshot data does not match its metadata`);
  }
  return { metadata: meta.metadata, data };
}

/**
 * Reads every entry once, checking its CRC, that keys run contiguously from
 * the log start and that terms never decrease. Keeps the terms and the tail
 * of the log (as much as the entry cache holds).
 */
async function scanLog(db: Db, dir: string, logStart: LogStart, cacheBytesMax: number): Promise<{ terms: number[]; cachedEntries: Entry[] }> {
  const terms: number[] = [logStart.term];
  const tail = new EntryCache(cacheBytesMax);
  let expected = logStart.index + 1;
  const range = { gte: Uint8Array.of(entryKeyPrefix), lt: Uint8Array.of(entryKeyPrefix + 1) };
  for await (const [key, value] of db.iterator(range)) {
    const index = decodeEntryKey(dir, key);
    if (index !== expected) {
      const problem = index < expected ? `is at or below the log start ${logStart.index}` : `follows a missing entry ${expected}`;
      throw new CorruptionError(index < expected ? index : expected, `data directory ${dir}: entry ${index} ${problem}`);
    }
    const entry = decodeRecord(dir, index, `entry ${index}`, value, decodeEntryPayload);
    const prevTerm = terms[terms.length - 1]!;
    if (entry.index !== index || entry.term < prevTerm) {
      throw new CorruptionError(index, `data directory ${dir}: entry ${index} holds index ${entry.index} term ${entry.term} after term ${prevTerm}`);
    }
    terms.push(entry.term);
    tail.append([entry]);
    expected++;
  }
  return { terms, cachedEntries: tail.toArray() };
}

