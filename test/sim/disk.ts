/**
 * The simulated disk: backups of a node's MemoryStorage (what a storage
 * rollback restores) and the bookkeeping of the node's durable record, the
 * way the real coordinator keeps it (src/raft/storage/durable-record.ts).
 */
import { assert, EntryType, MemoryStorage, type Entry, type HardState, type Snapshot } from '../../src/raft/index.js';
import type { DurableRecord, ObservedDurableState } from '../../src/raft/storage/durable-record.js';
import { decodeCommand, encodeCommand } from './kv.js';

/** MemoryStorage's fields, reached only here: a disk image is copied whole. */
interface StorageImage {
  hardState: HardState;
  snap: Snapshot;
  ents: Entry[];
}

function image(storage: MemoryStorage): StorageImage {
  return storage as unknown as StorageImage;
}

/** An exact copy of a storage, as a backup of its disk taken now. */
export function cloneStorage(storage: MemoryStorage): MemoryStorage {
  const from = image(storage);
  assert(Array.isArray(from.ents) && from.snap !== undefined && from.hardState !== undefined, 'MemoryStorage layout changed: cloneStorage must follow it');
  const copy = new MemoryStorage();
  Object.assign(image(copy), { hardState: from.hardState, snap: from.snap, ents: [...from.ents] });
  assert(
    copy.firstIndex() === storage.firstIndex() && copy.lastIndex() === storage.lastIndex() && copy.initialState().hardState === storage.initialState().hardState,
    'storage clone differs from its original',
  );
  return copy;
}

/** What the storage holds, in the terms the durable record is checked against. */
export function observedDurableState(storage: MemoryStorage): ObservedDurableState {
  const { hardState } = storage.initialState();
  const lastIndex = storage.lastIndex();
  return { term: hardState.term, vote: hardState.vote, lastIndex, lastTerm: storage.term(lastIndex) };
}

/**
 * The durable record as the simulator keeps it, the same as
 * src/raft/storage/durable-record.ts's. The last entry's term is what catches a
 * rollback that replaced an overwritten suffix by the older one of the same
 * length (same term, vote and last index): without it the node applies an
 * entry it had replaced (seed 671 with `--plant record-without-last-term`).
 */
export type SimRecord = DurableRecord;

/** A record matching what the storage holds now. */
export function recordOf(storage: MemoryStorage, sequence = 0): SimRecord {
  return { ...observedDurableState(storage), sequence };
}

/** The term `storage` holds at `index`, or null when it is compacted or past the log (the check's `termAt`). */
export function termAtOf(storage: MemoryStorage): (index: number) => number | null {
  return (index) => (index < storage.firstIndex() - 1 || index > storage.lastIndex() ? null : storage.term(index));
}

/** The last index `storage` will hold once `save(update)` is done (mirrors MemoryStorage.save). */
export function lastIndexAfter(storage: MemoryStorage, update: { entries: readonly Entry[]; snapshot: Snapshot | null }): number {
  let last = storage.lastIndex();
  let offset = storage.firstIndex() - 1;
  if (update.snapshot !== null && update.snapshot.metadata.index > storage.snapshot().metadata.index) {
    last = update.snapshot.metadata.index;
    offset = last;
  }
  const lastEntry = update.entries[update.entries.length - 1];
  if (lastEntry !== undefined && lastEntry.index > offset) last = lastEntry.index;
  return last;
}

/**
 * Planted bug support: rewrites the value of the client write at `index`
 * in place (a disk that corrupts a retained entry). Returns false when the
 * entry carries no client write.
 */
export function corruptEntry(storage: MemoryStorage, index: number): boolean {
  const ents = image(storage).ents;
  const position = index - (storage.firstIndex() - 1);
  const entry = ents[position];
  if (entry === undefined || entry.index !== index || entry.type !== EntryType.Normal) return false;
  const command = decodeCommand(entry.data);
  if (command === null || command.clientId === 0) return false;
  ents[position] = { ...entry, data: encodeCommand({ ...command, value: `${command.value}~` }) };
  return true;
}
