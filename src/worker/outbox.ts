// The worker's outbox: finished attempt results kept on disk until the
// coordinator confirms it has committed them, so a worker restart or a lost
// connection never loses a result.
//
// Why a log written by hand and not LevelDB, which the Raft log already uses:
// measured, it is cheaper where the outbox works hardest. `testudo bench
// outbox` (src/bench/outbox.ts) drives this log and a LevelDB outbox that
// batches the same way (one synced `db.batch` per turn) with 1–4 KB results
// from 1, 8 and 32 concurrent attempts; medians of 7 alternating runs each,
// 5,000 puts per run, on a shared 2-core VM with an ext4 disk (docs/architecture.md,
// "The worker's outbox", has the table and two more sessions):
//   - 8 and 32 attempts (a worker's slots): LevelDB spends 1.5× and 1.8× the
//     CPU per put (95 against 62 µs, 63 against 35 µs; at 32 the ranges of
//     the runs do not overlap), its put p50 is 3.2× and 1.7× longer, and it
//     makes 0.60× and 0.85× the puts per second. Two more sessions (5 pairs
//     each) agree: CPU 1.4–1.7× at 8, 1.75–2.1× at 32.
//   - 1 attempt: the same within noise (CPU 213 µs per put both; one fsync per
//     put sets the pace).
// The CPU matters because a worker shares its machine with the tests it runs.
// The log also reports every damaged frame (offset, reason) and sets its
// segment aside, where LevelDB's recovery drops damage in its own log without
// an error (src/raft/storage/durable-record.ts relies on the same fact).
// The framing and checksums are src/raft/frame.ts, shared with the Raft
// storage.
//
// Storage is a log. The directory holds append-only segment files
// `seg-<10-digit n>.log`; only the highest-numbered one is written to. A
// segment is a sequence of frames
//
//   [u32 LE payload length][u32 LE CRC-32C of the payload][payload]
//
// (src/raft/frame.ts) whose payload is the UTF-8 JSON of a record, `{"k":"put","r":<AttemptResult>}`
// or `{"k":"confirm","ids":[<attemptId>...]}`. Replaying the segments in order
// (a put of an id already held is ignored: first wins; a confirm forgets ids)
// gives the unconfirmed results.
//
// Group commit: puts and confirms go into a batch; the batch is written once
// the current event-loop turn is over (or, while a write is under way, as soon
// as it is done) with one write() of all its frames and, if it holds a put,
// one fdatasync() of the segment, kept open. A put resolves only after that
// sync. A batch of confirms only is written but not synced: a confirm lost in
// a crash makes its result reappear and be sent again, which the coordinator
// answers as a duplicate, so a confirm needs no fsync of its own (the next
// put's sync, or a compaction, makes it durable too).
//
// Deferred sync (`syncDelayMs`, default outboxSyncDelayMsDefault; the
// worker's --outbox-sync-ms): a put resolves once its batch is written, so
// the result is in the kernel's page cache and survives this process's crash
// (kill -9, out of memory), and the worker sends it at once. A result still
// unconfirmed `syncDelayMs` after it was written is synced then (one
// fdatasync for every such result), so it also survives a crash of the
// machine; a result the coordinators confirm sooner is never synced, since
// their Raft log holds it durably. What a machine crash can take is the
// results of the last `syncDelayMs` not yet committed: the leader then sends
// those attempts again to the worker that comes back without them (or counts
// them lost when it does not come back), and a result is counted at most once
// either way (test/integration/runs.test.ts stages such a crash). The sync
// is due when the oldest unconfirmed, unsynced result turns `syncDelayMs`
// old, and covers every result written before it. A scheduler benchmark of
// no-op tasks finishes thousands a second; one fdatasync per burst on each
// worker cost it a tenth of its rate (README, "Scheduler throughput").
// `syncDelayMs` 0 keeps the strict order: each burst is synced before its
// puts resolve.
//
// Compaction: when the active segment is over outboxCompactBytesMin and over
// twice the size of the live records, the live results are written to a
// temp file, synced, renamed to the next segment number and the directory
// synced; then appends go there and the older segments are deleted (directory
// synced again). A crash at any point leaves either the old segments alone or
// old and new together, which replay to the same results (the new segment
// holds only puts of results the old ones hold).
//
// Open: leftover temp files are removed; old-format `<id>.json` files (one
// result each) are loaded and migrated; segments are replayed in order. A torn
// last frame at the end of the last segment (a crash mid-write: short, running
// past the end of the file, or ending in zero fill) is cut off silently. A bad
// frame anywhere else (wrong checksum, impossible length, torn frame at the
// end of an older segment) is skipped, reading resumes at the next valid frame
// (found by scanning, so a damaged length hides nothing after it), and the
// damage is reported in `problems`; such a segment is then set aside under
// `corrupt/` once its live results are rewritten into a new segment.

import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { AttemptResult } from '../model/types.js';
import { encodeFrame, frameHeaderBytes, scanFrames, type FrameProblem } from '../raft/frame.js';
import { sanitizeId } from './executor.js';
import {
  outboxCompactBytesMin,
  outboxEntriesMaxDefault,
  outboxFileBytesMax,
  outboxLiveBytesMax,
  outboxRecordBytesMax,
  outboxSegmentBytesMax,
  outboxSegmentsMax,
  outboxSyncDelayMsDefault,
} from './limits.js';

export interface OutboxOptions {
  /** Most unconfirmed results held; default outboxEntriesMaxDefault. */
  readonly entriesMax?: number;
  /** Largest record (a result's JSON), bytes; default outboxRecordBytesMax. */
  readonly recordBytesMax?: number;
  /** Most bytes of unconfirmed results; default outboxLiveBytesMax. */
  readonly liveBytesMax?: number;
  /** Active segment size below which it is never compacted; default outboxCompactBytesMin. */
  readonly compactBytesMin?: number;
  /** Sync a written, unconfirmed result this long after it was written; 0: before its put resolves. Default outboxSyncDelayMsDefault. */
  readonly syncDelayMs?: number;
}

/** A file found unusable (in part or whole) when the outbox was opened. */
export interface OutboxProblem {
  /** The file as found. */
  readonly file: string;
  readonly reason: string;
  /** Where it was moved (under corrupt/), or '' if moving failed too. */
  readonly movedTo: string;
}

/** Counters, for tests and diagnostics. */
export interface OutboxStats {
  /** fdatasync/fsync calls of segment files (group commits and compactions). */
  readonly syncs: number;
  /** write batches appended to the active segment. */
  readonly writes: number;
  readonly compactions: number;
  /** Results written and unconfirmed whose sync is still due (deferred sync). */
  readonly unsynced: number;
  /** The active segment's file name, '' when closed. */
  readonly segment: string;
  readonly segmentBytes: number;
  /** Bytes of the records of the results held. */
  readonly liveBytes: number;
}

export class OutboxFullError extends Error {
  override readonly name = 'OutboxFullError';
  constructor(
    readonly entriesMax: number,
    detail?: string,
  ) {
    super(detail ?? `the outbox holds ${entriesMax} unconfirmed results, its limit: the coordinator has not confirmed them`);
  }
}

/** A single result too large for the outbox. */
export class OutboxRecordTooLargeError extends Error {
  override readonly name = 'OutboxRecordTooLargeError';
  constructor(
    readonly attemptId: string,
    readonly bytes: number,
    readonly bytesMax: number,
  ) {
    super(`the result of attempt ${JSON.stringify(attemptId)} is ${bytes} bytes as JSON, over the outbox's limit of ${bytesMax}`);
  }
}

/** The outbox directory of a worker's work dir. */
export function outboxDir(workDir: string): string {
  return path.join(workDir, 'outbox');
}

const tempPrefix = '.tmp-';
const segmentPattern = /^seg-(\d{10})\.log$/;
/** Every payload starts so (the first key is `k`); resynchronizing looks for it. */
const payloadPrefix = Buffer.from('{"k":"', 'utf8');
/** Compaction writes the live set in writes of about this size. */
const rewriteChunkBytes = 1024 * 1024;
/** Ids per confirm record (attempt ids are short; the record bound still applies). */
const confirmIdsPerRecord = 2048;

function segmentName(n: number): string {
  return `seg-${String(n).padStart(10, '0')}.log`;
}

interface Entry {
  readonly result: AttemptResult;
  /** Size of its put frame in the active segment's format (header included). */
  bytes: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface PendingPut {
  readonly id: string;
  readonly result: AttemptResult;
  readonly bytes: number;
}

interface Batch {
  frames: Buffer[];
  bytes: number;
  sync: boolean;
  puts: PendingPut[];
  waiters: Waiter[];
  compactWaiters: Waiter[];
}

interface Active {
  readonly handle: FileHandle;
  readonly file: string;
  size: number;
}

export class Outbox {
  private readonly entries = new Map<string, Entry>();
  /** Puts queued or being written, by attemptId. */
  private readonly writing = new Map<string, Promise<void>>();
  private writingBytes = 0;
  private liveBytes = 0;
  private readonly problemList: OutboxProblem[] = [];
  private readonly entriesMax: number;
  private readonly recordBytesMax: number;
  private readonly liveBytesMax: number;
  private readonly compactBytesMin: number;

  private active: Active | null = null;
  private nextNumber = 1;
  /** Segments (and migrated old files) superseded by a compaction, still to delete. */
  private stale: string[] = [];
  /** The active segment may hold a partial frame or unsynced failed writes: move to a new one first. */
  private mustRoll = false;
  /** No automatic compaction retry before the segment reaches this size (after a failed one). */
  private compactRetryAt = 0;

  /** Results written without a sync and not confirmed since (deferred sync): attemptId → when written (performance.now()), oldest first. */
  private readonly unsynced = new Map<string, number>();
  private syncTimer: NodeJS.Timeout | null = null;
  /** After a failed write or sync, the next deferred sync waits until then (performance.now()), not at once. */
  private syncRetryAtMs = 0;
  private readonly syncDelayMs: number;

  private batch: Batch | null = null;
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private closed = false;

  private syncs = 0;
  private writes = 0;
  private compactions = 0;

  private constructor(
    readonly dir: string,
    options: OutboxOptions,
  ) {
    this.entriesMax = options.entriesMax ?? outboxEntriesMaxDefault;
    this.recordBytesMax = options.recordBytesMax ?? outboxRecordBytesMax;
    this.liveBytesMax = options.liveBytesMax ?? outboxLiveBytesMax;
    this.compactBytesMin = options.compactBytesMin ?? outboxCompactBytesMin;
    this.syncDelayMs = options.syncDelayMs ?? outboxSyncDelayMsDefault;
    if (!(Number.isSafeInteger(this.syncDelayMs) && this.syncDelayMs >= 0)) throw new RangeError(`outbox syncDelayMs must be a non-negative integer, got ${this.syncDelayMs}`);
  }

  /** Opens (creating) the outbox in `dir`, loading every result in it. */
  static async open(dir: string, options: OutboxOptions = {}): Promise<Outbox> {
    await mkdir(dir, { recursive: true });
    const outbox = new Outbox(dir, options);
    await outbox.load();
    return outbox;
  }

  /** Damage found when the outbox was opened (damaged files are now under corrupt/). */
  get problems(): readonly OutboxProblem[] {
    return this.problemList;
  }

  get size(): number {
    return this.entries.size;
  }

  has(attemptId: string): boolean {
    return this.entries.has(attemptId);
  }

  /** The attempt ids of the unconfirmed results, in no order (cheaper than pending()). */
  attemptIds(): string[] {
    return [...this.entries.keys()];
  }

  stats(): OutboxStats {
    return {
      syncs: this.syncs,
      unsynced: this.unsynced.size,
      writes: this.writes,
      compactions: this.compactions,
      segment: this.active === null ? '' : path.basename(this.active.file),
      segmentBytes: this.active?.size ?? 0,
      liveBytes: this.liveBytes,
    };
  }

  /**
   * Stores a result: resolves once it is written (then it survives this
   * process's crash), synced to disk too when `syncDelayMs` is 0; otherwise
   * it is synced `syncDelayMs` later unless confirmed first (see "Deferred
   * sync" above). Idempotent: a result for an attemptId already held (or
   * being written) is not rewritten, the first one stays.
   */
  async put(result: AttemptResult): Promise<void> {
    const id = result.attemptId;
    if (this.entries.has(id)) return;
    const inFlight = this.writing.get(id);
    if (inFlight !== undefined) return inFlight;
    if (this.closed) throw new Error('the outbox is closed');
    if (this.entries.size + this.writing.size >= this.entriesMax) throw new OutboxFullError(this.entriesMax);
    const frame = encodeFrame(JSON.stringify({ k: 'put', r: result }));
    const payloadBytes = frame.length - frameHeaderBytes;
    if (payloadBytes > this.recordBytesMax) throw new OutboxRecordTooLargeError(id, payloadBytes, this.recordBytesMax);
    if (this.liveBytes + this.writingBytes + frame.length > this.liveBytesMax) {
      throw new OutboxFullError(
        this.entriesMax,
        `the outbox's unconfirmed results take ${this.liveBytes + this.writingBytes} bytes; with ${frame.length} more they would pass its limit of ${this.liveBytesMax}`,
      );
    }
    const write = this.enqueue([frame], this.syncDelayMs === 0, { id, result, bytes: frame.length });
    this.writing.set(id, write);
    this.writingBytes += frame.length;
    return write;
  }

  /**
   * Forgets results the coordinator has committed (unknown ids are ignored).
   * The confirm record is written but not synced (see the top of the file).
   */
  async confirm(attemptIds: readonly string[]): Promise<void> {
    const removed: string[] = [];
    for (const id of attemptIds) {
      const inFlight = this.writing.get(id);
      if (inFlight !== undefined) await inFlight.catch(() => undefined);
      const entry = this.entries.get(id);
      if (entry === undefined) continue;
      this.entries.delete(id);
      this.unsynced.delete(id);
      this.liveBytes -= entry.bytes;
      removed.push(id);
    }
    if (removed.length === 0) return;
    if (this.unsynced.size === 0) this.cancelSync();
    if (this.closed) throw new Error('the outbox is closed');
    const frames: Buffer[] = [];
    let ids: string[] = [];
    let idBytes = 0;
    const flush = (): void => {
      if (ids.length > 0) frames.push(encodeFrame(JSON.stringify({ k: 'confirm', ids })));
      ids = [];
      idBytes = 0;
    };
    for (const id of removed) {
      const bytes = Buffer.byteLength(id, 'utf8') * 6 + 3; // JSON escaping at worst, quotes, comma
      if (ids.length >= confirmIdsPerRecord || idBytes + bytes > this.recordBytesMax / 2) flush();
      ids.push(id);
      idBytes += bytes;
    }
    flush();
    await this.enqueue(frames, false, null);
  }

  /** Unconfirmed results, oldest first (finishedAtMs, then attemptId). */
  pending(): AttemptResult[] {
    return [...this.entries.values()]
      .map((e) => e.result)
      .sort((a, b) => a.finishedAtMs - b.finishedAtMs || (a.attemptId < b.attemptId ? -1 : a.attemptId > b.attemptId ? 1 : 0));
  }

  /** Rewrites the live results into a new segment now (normally automatic). */
  compact(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the outbox is closed'));
    return new Promise<void>((resolve, reject) => {
      this.currentBatch().compactWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  /** Waits for queued writes, syncs the results whose sync was still due, then closes the segment; later puts and confirms fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelSync();
    while (this.draining) await this.idle;
    const active = this.active;
    this.active = null;
    if (active === null) return;
    try {
      if (this.unsynced.size > 0 && !this.mustRoll) {
        this.syncs++;
        await active.handle.datasync();
        this.unsynced.clear();
      }
    } finally {
      await active.handle.close();
    }
  }

  // ------------------------------------------------------------ writing

  private currentBatch(): Batch {
    this.batch ??= { frames: [], bytes: 0, sync: false, puts: [], waiters: [], compactWaiters: [] };
    return this.batch;
  }

  private enqueue(frames: readonly Buffer[], sync: boolean, put: PendingPut | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const batch = this.currentBatch();
      for (const frame of frames) {
        batch.frames.push(frame);
        batch.bytes += frame.length;
      }
      if (sync) batch.sync = true;
      if (put !== null) batch.puts.push(put);
      batch.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  /** Starts the writer after this turn unless it is running (then it takes the batch when done). */
  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    this.idle = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.drain().then(resolve, resolve);
      });
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.batch !== null) {
        const batch = this.batch;
        this.batch = null;
        await this.commit(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Writes (and syncs) one batch, settles its promises, then compacts if due. Never throws. */
  private async commit(batch: Batch): Promise<void> {
    let failed = false;
    let error: unknown;
    if (batch.frames.length > 0 || batch.sync) {
      try {
        if (this.active === null) throw new Error('the outbox is closed');
        if (this.mustRoll || this.active.size + batch.bytes > outboxSegmentBytesMax) await this.rewrite();
        // Every result written before this sync (earlier batches, each written in turn) is durable after it.
        const covered = batch.sync ? [...this.unsynced.keys()] : [];
        await this.append(Buffer.concat(batch.frames, batch.bytes), batch.sync);
        for (const id of covered) this.unsynced.delete(id);
      } catch (err) {
        failed = true;
        error = err;
      }
    }
    // Settle in memory before anything else runs, so a compaction sees these puts.
    const writtenAtMs = performance.now();
    for (const put of batch.puts) {
      this.writing.delete(put.id);
      this.writingBytes -= put.bytes;
      if (!failed) {
        this.entries.set(put.id, { result: put.result, bytes: put.bytes });
        this.liveBytes += put.bytes;
        if (!batch.sync) this.unsynced.set(put.id, writtenAtMs);
      }
    }
    if (failed && this.unsynced.size > 0) {
      // Retried a whole delay later, through a new segment (mustRoll), which holds every live result synced.
      this.cancelSync();
      this.syncRetryAtMs = writtenAtMs + this.syncDelayMs;
    }
    if (this.unsynced.size > 0) this.armSync();
    for (const waiter of batch.waiters) {
      if (failed) waiter.reject(error);
      else waiter.resolve();
    }
    if (batch.compactWaiters.length > 0) {
      try {
        if (this.active === null) throw new Error('the outbox is closed');
        await this.rewrite();
        for (const waiter of batch.compactWaiters) waiter.resolve();
      } catch (err) {
        for (const waiter of batch.compactWaiters) waiter.reject(err);
      }
    } else if (this.compactionDue()) {
      try {
        await this.rewrite();
      } catch {
        // Retried once the segment has grown by another compactBytesMin; the
        // active segment is still whole, so nothing is lost meanwhile.
        if (this.active !== null) this.compactRetryAt = this.active.size + this.compactBytesMin;
      }
    }
  }

  /**
   * Deferred sync: a timer for when the oldest unsynced result turns
   * `syncDelayMs` old (unless one is set); then a sync-only batch, or, when
   * that result was confirmed meanwhile, a timer for the next oldest.
   */
  private armSync(): void {
    if (this.syncTimer !== null || this.closed) return;
    const oldest = this.unsynced.values().next();
    if (oldest.done === true) return;
    this.syncTimer = setTimeout(
      () => {
        this.syncTimer = null;
        if (this.closed) return;
        const first = this.unsynced.values().next();
        if (first.done === true) return;
        if (performance.now() - first.value < this.syncDelayMs || performance.now() < this.syncRetryAtMs) {
          this.armSync();
          return;
        }
        this.currentBatch().sync = true;
        this.kick();
      },
      Math.max(1, Math.ceil(Math.max(oldest.value + this.syncDelayMs, this.syncRetryAtMs) - performance.now())),
    );
    // A worker that stops closes its outbox, which syncs what is still due.
    this.syncTimer.unref();
  }

  private cancelSync(): void {
    if (this.syncTimer === null) return;
    clearTimeout(this.syncTimer);
    this.syncTimer = null;
  }

  private compactionDue(): boolean {
    const active = this.active;
    if (active === null || this.mustRoll) return false;
    return active.size > Math.max(this.compactBytesMin, 2 * this.liveBytes) && active.size >= this.compactRetryAt;
  }

  private async append(data: Buffer, sync: boolean): Promise<void> {
    const active = this.active;
    if (active === null) throw new Error('the outbox is closed');
    try {
      if (data.length > 0) {
        await writeAll(active.handle, data);
        active.size += data.length;
        this.writes++;
      }
      if (sync) {
        this.syncs++;
        await active.handle.datasync();
      }
    } catch (err) {
      // The segment may now end in a partial frame, or hold pages whose
      // write-back failed (a later fsync could wrongly succeed): leave it.
      this.mustRoll = true;
      throw err;
    }
  }

  /**
   * Writes the live results into a new segment (temp file, sync, rename, sync
   * of the directory), makes it the active one and deletes the superseded ones.
   */
  private async rewrite(): Promise<void> {
    const name = segmentName(this.nextNumber++);
    const file = path.join(this.dir, name);
    const temp = path.join(this.dir, `${tempPrefix}${name}`);
    const live = [...this.entries];
    const sizes = new Map<string, number>();
    let size = 0;
    const handle = await open(temp, 'w', 0o644);
    try {
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const [id, entry] of live) {
        const frame = encodeFrame(JSON.stringify({ k: 'put', r: entry.result }));
        sizes.set(id, frame.length);
        chunk.push(frame);
        chunkBytes += frame.length;
        if (chunkBytes >= rewriteChunkBytes) {
          await writeAll(handle, Buffer.concat(chunk, chunkBytes));
          size += chunkBytes;
          chunk = [];
          chunkBytes = 0;
        }
      }
      if (chunkBytes > 0) await writeAll(handle, Buffer.concat(chunk, chunkBytes));
      size += chunkBytes;
      this.syncs++;
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
    await handle.close();
    let appendHandle: FileHandle;
    try {
      await rename(temp, file);
      await fsyncDir(this.dir);
      appendHandle = await open(file, 'a');
    } catch (err) {
      // Not switched: the old segments stay the truth; do not leave a snapshot
      // that would replay after them.
      await rm(temp, { force: true }).catch(() => undefined);
      await rm(file, { force: true }).catch(() => undefined);
      throw err;
    }
    const previous = this.active;
    this.active = { handle: appendHandle, file, size };
    this.mustRoll = false;
    this.compactRetryAt = 0;
    this.compactions++;
    // The new segment holds every live result, synced.
    this.unsynced.clear();
    let liveBytes = 0;
    for (const [id, entry] of this.entries) {
      entry.bytes = sizes.get(id) ?? entry.bytes;
      liveBytes += entry.bytes;
    }
    this.liveBytes = liveBytes;
    if (previous !== null) {
      this.stale.push(previous.file);
      await previous.handle.close().catch(() => undefined);
    }
    await this.removeStale();
  }

  private async removeStale(): Promise<void> {
    const kept: string[] = [];
    let removed = false;
    for (const file of this.stale) {
      try {
        await unlink(file);
        removed = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') kept.push(file);
      }
    }
    this.stale = kept;
    // A deletion lost in a crash only leaves a superseded segment, which replays harmlessly.
    if (removed) await fsyncDir(this.dir).catch(() => undefined);
  }

  // ------------------------------------------------------------ loading

  private async load(): Promise<void> {
    const dirents = await readdir(this.dir, { withFileTypes: true });
    const legacyNames: string[] = [];
    let segments: { readonly number: number; readonly name: string }[] = [];
    let removedTemp = false;
    for (const dirent of dirents) {
      if (dirent.name.startsWith(tempPrefix)) {
        // A write that crashed before its rename: never part of the outbox.
        await rm(path.join(this.dir, dirent.name), { force: true, recursive: true });
        removedTemp = true;
        continue;
      }
      const match = segmentPattern.exec(dirent.name);
      if (match !== null && dirent.isFile()) segments.push({ number: Number(match[1]), name: dirent.name });
      else if (dirent.name.endsWith('.json')) legacyNames.push(dirent.name);
    }
    legacyNames.sort();
    segments.sort((a, b) => a.number - b.number);
    this.nextNumber = (segments.at(-1)?.number ?? 0) + 1;
    if (removedTemp) await fsyncDir(this.dir);

    // Results of the previous format come first: they predate every segment.
    const migrated: string[] = [];
    for (const name of legacyNames) {
      const file = path.join(this.dir, name);
      const loaded = await loadLegacyFile(file, name);
      let reason = loaded.ok ? '' : loaded.reason;
      if (loaded.ok) {
        const bytes = Buffer.byteLength(JSON.stringify({ k: 'put', r: loaded.result }), 'utf8');
        if (bytes > this.recordBytesMax) reason = `${bytes} bytes as a record, over the limit of ${this.recordBytesMax}`;
        else {
          if (!this.entries.has(loaded.result.attemptId)) this.entries.set(loaded.result.attemptId, { result: loaded.result, bytes: frameHeaderBytes + bytes });
          migrated.push(file);
          continue;
        }
      }
      this.problemList.push({ file, reason, movedTo: await quarantine(this.dir, name) });
    }

    if (segments.length > outboxSegmentsMax) {
      // Never made by this writer (it keeps one, two after a crash); the
      // newest hold the latest compaction, which has every live result.
      const excess = segments.slice(0, segments.length - outboxSegmentsMax);
      segments = segments.slice(segments.length - outboxSegmentsMax);
      for (const segment of excess) {
        this.problemList.push({
          file: path.join(this.dir, segment.name),
          reason: `more than ${outboxSegmentsMax} segments: the oldest set aside unread`,
          movedTo: await quarantine(this.dir, segment.name),
        });
      }
    }

    const damaged: { readonly name: string; readonly reasons: readonly string[] }[] = [];
    const whole: string[] = [];
    let tornEnd = -1;
    for (const [index, segment] of segments.entries()) {
      const file = path.join(this.dir, segment.name);
      const isLast = index === segments.length - 1;
      let data: Buffer;
      try {
        const info = await stat(file);
        if (info.size > outboxSegmentBytesMax) {
          damaged.push({ name: segment.name, reasons: [`${info.size} bytes, over the segment limit of ${outboxSegmentBytesMax}: not read`] });
          continue;
        }
        data = await readFile(file);
      } catch (err) {
        damaged.push({ name: segment.name, reasons: [`cannot read: ${err instanceof Error ? err.message : String(err)}`] });
        continue;
      }
      const scan = scanSegment(data, this.recordBytesMax, isLast);
      const reasons = [...scan.problems];
      for (const record of scan.records) {
        const issue = this.replay(record.payload);
        if (issue !== null) reasons.push(`the record at offset ${record.offset} ${issue}: skipped`);
      }
      if (reasons.length > 0) damaged.push({ name: segment.name, reasons });
      else whole.push(file);
      if (isLast && scan.torn) tornEnd = scan.validEnd;
    }
    let liveBytes = 0;
    for (const entry of this.entries.values()) liveBytes += entry.bytes;
    this.liveBytes = liveBytes;

    const last = segments.at(-1);
    if (damaged.length === 0 && migrated.length === 0 && segments.length <= 1) {
      // The usual case: one whole segment (or none yet) to append to.
      const file = path.join(this.dir, last?.name ?? segmentName(this.nextNumber++));
      if (tornEnd >= 0) {
        // A crash mid-write: cut the partial frame off so appends follow whole frames.
        const handle = await open(file, 'r+');
        try {
          await handle.truncate(tornEnd);
          await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      const handle = await open(file, 'a', 0o644);
      this.active = { handle, file, size: (await handle.stat()).size };
      if (last === undefined) await fsyncDir(this.dir);
      return;
    }
    // Migration, damage, or a crash mid-compaction: write the live set into a
    // new segment, then delete what it supersedes and set the damaged aside.
    this.stale.push(...whole, ...migrated);
    await this.rewrite();
    for (const { name, reasons } of damaged) {
      const movedTo = await quarantine(this.dir, name);
      for (const reason of reasons) this.problemList.push({ file: path.join(this.dir, name), reason, movedTo });
    }
  }

  /** Applies one record read back; returns what is wrong with it, or null. */
  private replay(payload: Buffer): string | null {
    let record: unknown;
    try {
      record = JSON.parse(payload.toString('utf8'));
    } catch {
      return 'is not valid JSON';
    }
    if (typeof record !== 'object' || record === null) return 'is not an outbox record';
    const { k: kind, r: result, ids } = record as Record<string, unknown>;
    if (kind === 'put') {
      if (!looksLikeResult(result)) return 'is a put without a valid result';
      if (!this.entries.has(result.attemptId)) this.entries.set(result.attemptId, { result, bytes: frameHeaderBytes + payload.length });
      return null;
    }
    if (kind === 'confirm') {
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return 'is a confirm without a list of ids';
      for (const id of ids as string[]) this.entries.delete(id);
      return null;
    }
    return `has unknown kind ${JSON.stringify(kind)}`;
  }
}

const frameProblems: Record<FrameProblem, string> = {
  short: 'a partial frame header',
  length: 'a frame with an impossible length',
  'past-end': 'a frame running past the end of the file',
  checksum: 'a frame with a wrong checksum',
};

interface SegmentScan {
  readonly records: readonly { readonly offset: number; readonly payload: Buffer }[];
  readonly problems: readonly string[];
  /** The end of the last valid frame. */
  readonly validEnd: number;
  /** The last segment ends in a frame torn by a crash mid-write (not a problem). */
  readonly torn: boolean;
}

/** The frames of a segment, and its damage in words; a torn tail is damage only in a segment that is not the last. */
function scanSegment(data: Buffer, recordBytesMax: number, isLast: boolean): SegmentScan {
  const scan = scanFrames(data, { payloadBytesMax: recordBytesMax, payloadPrefix });
  const problems = scan.skipped.map((s) => `${frameProblems[s.problem]} at offset ${s.offset}: ${s.bytes} bytes skipped`);
  const tail = scan.tail;
  if (tail !== null && !(tail.torn && isLast)) {
    problems.push(
      tail.torn
        ? `an incomplete frame at offset ${tail.offset}, at the end of a segment that is not the last: ${tail.bytes} bytes dropped`
        : `${frameProblems[tail.problem]} at offset ${tail.offset}: the ${tail.bytes} bytes to the end are unreadable`,
    );
  }
  return { records: scan.frames, problems, validEnd: scan.validEnd, torn: tail !== null && tail.torn && isLast };
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    offset += bytesWritten;
  }
}

// ------------------------------------------------------------ the previous format

/** The previous format, one `<sanitized attemptId>.json` file per result; read only to migrate. */
const legacyFormatVersion = 1;

type Loaded = { ok: true; result: AttemptResult } | { ok: false; reason: string };

async function loadLegacyFile(file: string, name: string): Promise<Loaded> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return { ok: false, reason: 'not a regular file' };
    if (info.size > outboxFileBytesMax) return { ok: false, reason: `${info.size} bytes, over the limit` };
    return decodeLegacyEntry(await readFile(file, 'utf8'), name);
  } catch (err) {
    return { ok: false, reason: `cannot read: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Parses and checks an old-format file's text, an envelope
 * `{"format":1,"sha256":"<hex>","result":"<JSON of the AttemptResult>"}`
 * (name: its file name, which must match the attemptId).
 */
function decodeLegacyEntry(text: string, name: string): Loaded {
  if (text.length === 0) return { ok: false, reason: 'empty file' };
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON (truncated?)' };
  }
  if (typeof envelope !== 'object' || envelope === null) return { ok: false, reason: 'not an outbox entry' };
  const { format, sha256: sum, result: payload } = envelope as Record<string, unknown>;
  if (format !== legacyFormatVersion) return { ok: false, reason: `unknown format ${JSON.stringify(format)}` };
  if (typeof sum !== 'string' || typeof payload !== 'string') return { ok: false, reason: 'not an outbox entry' };
  if (createHash('sha256').update(payload, 'utf8').digest('hex') !== sum) return { ok: false, reason: 'checksum mismatch' };
  let result: unknown;
  try {
    result = JSON.parse(payload);
  } catch {
    return { ok: false, reason: 'result is not valid JSON' };
  }
  if (!looksLikeResult(result)) return { ok: false, reason: 'result lacks the fields of an AttemptResult' };
  if (`${sanitizeId(result.attemptId)}.json` !== name) {
    return { ok: false, reason: `holds attempt ${JSON.stringify(result.attemptId)}, not the one its name says` };
  }
  return { ok: true, result };
}

function looksLikeResult(value: unknown): value is AttemptResult {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r['attemptId'] === 'string' &&
    typeof r['taskId'] === 'string' &&
    typeof r['workerId'] === 'string' &&
    (r['outcome'] === 'passed' || r['outcome'] === 'failed' || r['outcome'] === 'infra-error') &&
    typeof r['finishedAtMs'] === 'number' &&
    Array.isArray(r['tests'])
  );
}

/** Moves `dir/name` under `dir/corrupt/`; returns where, or '' if that failed. */
async function quarantine(dir: string, name: string): Promise<string> {
  const corruptDir = path.join(dir, 'corrupt');
  try {
    await mkdir(corruptDir, { recursive: true });
    let target = path.join(corruptDir, name);
    try {
      await stat(target);
      target = path.join(corruptDir, `${name}.${Date.now()}-${randomBytes(3).toString('hex')}`);
    } catch {
      // free
    }
    await rename(path.join(dir, name), target);
    await fsyncDir(corruptDir);
    await fsyncDir(dir);
    return target;
  } catch {
    return '';
  }
}

/** Makes a directory's entries (creates, renames, unlinks) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
