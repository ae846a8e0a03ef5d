import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataDirLockedError,
  decodeConfChange,
  EntryType,
  ForeignDataDirError,
  LevelDbStorage,
  type ConfState,
  type DurableRecord,
} from '../raft/index.js';

export interface DataDirReport {
  readonly dir: string;
  readonly nodeId: string;
  readonly hardState: { term: number; vote: string; commit: number };
  readonly snapshot: { index: number; term: number; dataBytes: number; confState: ConfState };
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /**
   * The durable record (term, vote, last index the node last acknowledged as
   * durable) and what LevelDB holds less of; a non-empty `problems` is the
   * damage a coordinator refuses to start on.
   */
  readonly durable: { record: Omit<DurableRecord, 'sequence'> | null; problems: readonly string[] };
  readonly tail: readonly { index: number; term: number; type: string; bytes: number; change?: string }[];
}

/**
 * Validates a data directory (every record's CRC32C, the log against the
 * snapshot, LevelDB against the durable record) and reports its Raft state,
 * without changing a byte of it.
 *
 * LevelDB has no read-only open: opening replays its log file, writes a new
 * table and manifest, and drops a damaged tail, which is the very damage an
 * operator wants to see. So the directory is copied to a temporary one, the
 * copy is opened and checked, and the copy is removed. A directory a running
 * node holds open is refused rather than copied mid-write. A damaged,
 * foreign or missing directory raises the storage's own error, naming the
 * directory given (not the copy).
 */
export async function inspectDataDir(dir: string, nodeId: string, tailEntries: number): Promise<DataDirReport> {
  await refuseMissingOrLocked(dir);
  const copy = await mkdtemp(join(tmpdir(), 'testudo-inspect-copy-'));
  try {
    await cp(dir, copy, { recursive: true });
    const storage = await LevelDbStorage.open(copy, { nodeId, createIfMissing: false, durableCheck: 'report' });
    try {
      return report(storage, dir, tailEntries);
    } finally {
      await storage.close();
    }
  } catch (error) {
    throw namingOriginal(error, copy, dir);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

function report(storage: LevelDbStorage, dir: string, tailEntries: number): DataDirReport {
  const { hardState } = storage.initialState();
  const snapshot = storage.snapshot();
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const from = Math.max(first, last - tailEntries + 1);
  const tail = from > last ? [] : storage.entries(from, last + 1, Number.POSITIVE_INFINITY).map((e) => {
    const change = e.type === EntryType.ConfChange ? decodeConfChange(e.data, e.index) : null;
    return {
      index: e.index,
      term: e.term,
      type: change === null ? 'normal' : 'conf-change',
      bytes: e.data.byteLength,
      ...(change === null ? {} : { change: `${['add-voter', 'add-learner', 'remove'][change.type]} ${change.nodeId}` }),
    };
  });
  const { record, problems } = storage.durableCheck;
  return {
    dir,
    nodeId: storage.nodeId,
    hardState: { ...hardState },
    snapshot: { index: snapshot.metadata.index, term: snapshot.metadata.term, dataBytes: snapshot.data.byteLength, confState: snapshot.metadata.confState },
    firstIndex: first,
    lastIndex: last,
    lastTerm: storage.term(last),
    durable: { record: record === null ? null : { term: record.term, vote: record.vote, lastIndex: record.lastIndex, lastTerm: record.lastTerm }, problems },
    tail,
  };
}

async function refuseMissingOrLocked(dir: string): Promise<void> {
  const lock = await stat(join(dir, 'LOCK')).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw error;
  });
  if (lock === null) throw new ForeignDataDirError(dir, 'holds no Testudo data (no LevelDB database there)');
  if (await isPosixLocked(lock.dev, lock.ino)) throw new DataDirLockedError(dir);
}

/**
 * True when a process holds a POSIX lock on the file (LevelDB locks LOCK
 * with fcntl while the database is open). Read from Linux's /proc/locks,
 * whose lines name the file as `major:minor:inode` (hex, hex, decimal);
 * elsewhere there is no such list and the check answers false.
 */
async function isPosixLocked(dev: number, ino: number): Promise<boolean> {
  let locks: string;
  try {
    locks = await readFile('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  // Linux's dev_t: minor in bits 0-7 and 20-31, major in bits 8-19.
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  for (const line of locks.split('\n')) {
    if (!line.includes('POSIX')) continue;
    for (const field of line.split(/\s+/)) {
      const match = /^([0-9a-f]+):([0-9a-f]+):(\d+)$/.exec(field);
      if (match !== null && parseInt(match[1]!, 16) === major && parseInt(match[2]!, 16) === minor && Number(match[3]) === ino) return true;
    }
  }
  return false;
}

/** Errors from the copy name the directory the operator gave. */
function namingOriginal(error: unknown, copy: string, dir: string): unknown {
  if (!(error instanceof Error)) return error;
  error.message = error.message.split(copy).join(dir);
  if ((error as { dir?: unknown }).dir === copy) Object.defineProperty(error, 'dir', { value: dir });
  return error;
}
