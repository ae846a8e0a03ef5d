// Opening a data directory for LevelDbStorage: a fresh one is initialized
// in one synced batch; an existing one is read whole and every record
// checked against the others (CRCs, a contiguous log, the snapshot inside
// it, the commit not past the end), then compared with the durable record
// beside it (durable-record.ts), which refuses storage that went back.

import type { Level } from 'level';
import { bootstrapState } from '../core/bootstrap.js';
import { CorruptionError, DurableStateRolledBackError, RaftError } from '../core/errors.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, type ConfState, type Entry, type HardState, type NodeId, type Snapshot } from '../core/types.js';
import { DurableFile, durableFileName } from './durable-file.js';
import { checkDurableState, DurableRecordError, type DurableRecord, type ObservedDurableState } from './durable-record.js';
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

/** A data directory that is not this node's: another node's, or not Testudo's. */
export class ForeignDataDirError extends RaftError {
  override readonly name = 'ForeignDataDirError';
  readonly dir: string;

  constructor(dir: string, message: string) {
    super(`data directory ${dir}: ${message}`, false);
    this.dir = dir;
  }
}

export type Db = Level<Uint8Array, Uint8Array>;

export type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

export interface LoadedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly logStart: LogStart;
  readonly terms: number[];
  readonly cachedEntries: readonly Entry[];
  readonly durable: { readonly file: DurableFile | null; readonly check: DurableCheck };
}

export interface OpenMode {
  readonly check: DurableCheckMode;
  readonly plantedBug: StoragePlantedBug | undefined;
}

/** The batch operations that store `snapshot`: its metadata (with the data's CRC) and its data. */
export function snapshotOps(snapshot: Snapshot): BatchOp[] {
  const data = seal(snapshot.data);
  return [
    { type: 'put', key: keySnapshotMeta, value: encodeSnapshotMeta(snapshot, readCrc(data)) },
    { type: 'put', key: keySnapshotData, value: data },
  ];
}

/**
 * The state in `db` (at `dir`), validated, with its durable record opened
 * for writes (or, in 'report' mode, only checked); a database with no
 * format record and no keys is founded here (with `bootstrapConfState`, its
 * founding entries).
 */
export async function loadState(
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

