import { constants } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../core/errors.js';
import { decodeDurableRecord, durableRecordBytes, encodeDurableRecord, type DurableRecord, type ObservedDurableState } from './durable-record.js';

/**
 * The durable record's file, `DURABLE` inside the LevelDB directory. LevelDB
 * leaves it alone: its cleanup and `DestroyDB` only touch names they parse
 * (CURRENT, LOCK, LOG, LOG.old, MANIFEST-n, n.log, n.ldb, n.sst, n.dbtmp).
 *
 * Updates overwrite the whole fixed-size record at offset 0 through a
 * descriptor kept open with O_DSYNC, so each write returns once its data is
 * on disk, as if followed by fdatasync, in one system call (one trip to
 * libuv's thread pool instead of two). The record (under 512 bytes) fits one disk sector,
 * whose write is atomic on the disks we run on, so a crash leaves the old
 * record or the new one. A new file is written whole under a temporary name,
 * synced, renamed into place and its directory synced.
 */
export const durableFileName = 'DURABLE';

export class DurableFile {
  readonly path: string;
  private readonly handle: FileHandle;
  private current: DurableRecord;
  private writesCount = 0;

  private constructor(path: string, handle: FileHandle, record: DurableRecord) {
    this.path = path;
    this.handle = handle;
    this.current = record;
  }

  /** The record in `dir`, null when there is none. Throws `DurableRecordError` when it is damaged. */
  static async read(dir: string): Promise<DurableRecord | null> {
    let handle: FileHandle;
    try {
      handle = await open(join(dir, durableFileName), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      // One byte more than a record, so a longer file is seen as damaged too.
      const buf = Buffer.alloc(durableRecordBytes + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      return decodeDurableRecord(buf.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }

  /** Opens the existing record for updates; `record` is what `read` returned. */
  static async openExisting(dir: string, record: DurableRecord): Promise<DurableFile> {
    const path = join(dir, durableFileName);
    return new DurableFile(path, await openForUpdates(path), record);
  }

  /** Writes a new record file atomically (temporary name, sync, rename, sync the directory). */
  static async create(dir: string, state: ObservedDurableState): Promise<DurableFile> {
    const path = join(dir, durableFileName);
    const tmp = `${path}.tmp`;
    const record: DurableRecord = { term: state.term, vote: state.vote, lastIndex: state.lastIndex, lastTerm: state.lastTerm, sequence: 0 };
    const fresh = await open(tmp, 'w');
    try {
      await fresh.write(encodeDurableRecord(record), 0, durableRecordBytes, 0);
      await fresh.sync();
    } finally {
      await fresh.close();
    }
    await rename(tmp, path);
    await syncDir(dir);
    return new DurableFile(path, await openForUpdates(path), record);
  }

  get record(): DurableRecord {
    return this.current;
  }

  /** Record writes since open (tests count them: a Ready that changes nothing it holds writes none). */
  get writes(): number {
    return this.writesCount;
  }

  /** True when `state` differs from the record in anything it holds. */
  differs(state: ObservedDurableState): boolean {
    return state.term !== this.current.term || state.vote !== this.current.vote || state.lastIndex !== this.current.lastIndex || state.lastTerm !== this.current.lastTerm;
  }

  /** Overwrites the record with `state`, durably (O_DSYNC); no write when nothing changed. */
  async write(state: ObservedDurableState): Promise<void> {
    if (!this.differs(state)) return;
    const record: DurableRecord = { term: state.term, vote: state.vote, lastIndex: state.lastIndex, lastTerm: state.lastTerm, sequence: this.current.sequence + 1 };
    const buf = encodeDurableRecord(record);
    const { bytesWritten } = await this.handle.write(buf, 0, buf.length, 0);
    assert(bytesWritten === buf.length, `durable record: wrote ${bytesWritten} of ${buf.length} bytes`);
    this.current = record;
    this.writesCount++;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function openForUpdates(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDWR | constants.O_DSYNC);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
