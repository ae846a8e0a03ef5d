import { describe, expect, it } from 'vitest';
import {
  AssertionFailure,
  CompactedError,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  UnavailableError,
  type Entry,
} from '../../src/raft/index.js';

function ents(first: number, terms: readonly number[], bytes = 0): Entry[] {
  return terms.map((term, i) => ({ index: first + i, term, type: EntryType.Normal, data: new Uint8Array(bytes) }));
}

/** Storage holding entries 1..terms.length. */
function storageWith(terms: readonly number[], bytes = 0): MemoryStorage {
  const storage = new MemoryStorage();
  storage.append(ents(1, terms, bytes));
  return storage;
}

const conf = { voters: ['1', '2', '3'], learners: [] };

describe('MemoryStorage reads', () => {
  it('an empty storage: first 1, last 0, term(0) = 0, empty snapshot', () => {
    const storage = new MemoryStorage();
    expect(storage.firstIndex()).toBe(1);
    expect(storage.lastIndex()).toBe(0);
    expect(storage.term(0)).toBe(0);
    expect(storage.snapshot().metadata.index).toBe(0);
    expect(storage.initialState().hardState).toEqual({ term: 0, vote: '', commit: 0 });
  });

  it('entries: CompactedError at or below the snapshot, UnavailableError past the end', () => {
    const storage = storageWith([1, 1, 2, 2, 3]);
    storage.createSnapshot(2, conf, new Uint8Array(0));
    storage.compact(2);
    expect(storage.entries(3, 6, Number.MAX_SAFE_INTEGER).map((e) => e.index)).toEqual([3, 4, 5]);
    expect(() => storage.entries(2, 4, Number.MAX_SAFE_INTEGER)).toThrow(CompactedError);
    expect(() => storage.entries(3, 7, Number.MAX_SAFE_INTEGER)).toThrow(UnavailableError);
  });

  it('term: CompactedError below the snapshot, the snapshot term at it, UnavailableError past the end', () => {
    const storage = storageWith([1, 1, 2, 2, 3]);
    storage.createSnapshot(3, conf, new Uint8Array(0));
    storage.compact(3);
    expect(() => storage.term(2)).toThrow(CompactedError);
    expect(storage.term(3)).toBe(2);
    expect(storage.term(5)).toBe(3);
    expect(() => storage.term(6)).toThrow(UnavailableError);
  });

  it('entries: byte limit, but always at least one entry', () => {
    const storage = storageWith([1, 1, 1, 1], 10);
    const each = 34;
    expect(storage.entries(1, 5, 2 * each).length).toBe(2);
    expect(storage.entries(1, 5, 2 * each - 1).length).toBe(1);
    expect(storage.entries(1, 5, 0).length).toBe(1);
    expect(storage.entries(2, 2, 0)).toEqual([]);
  });
});

describe('MemoryStorage writes', () => {
  it('append truncates a conflicting suffix', () => {
    const storage = storageWith([1, 1, 1, 1]);
    storage.append(ents(3, [2]));
    expect(storage.lastIndex()).toBe(3);
    expect(storage.term(3)).toBe(2);
    expect(() => storage.term(4)).toThrow(UnavailableError);
  });

  it('append extends and refuses gaps', () => {
    const storage = storageWith([1, 1]);
    storage.append(ents(3, [2, 2]));
    expect(storage.lastIndex()).toBe(4);
    expect(() => storage.append(ents(6, [2]))).toThrow(AssertionFailure);
  });

  it('append skips entries already compacted', () => {
    const storage = storageWith([1, 1, 1, 1]);
    storage.createSnapshot(3, conf, new Uint8Array(0));
    storage.compact(3);
    storage.append(ents(2, [1, 1, 1, 2]));
    expect(storage.firstIndex()).toBe(4);
    expect(storage.lastIndex()).toBe(5);
    expect(storage.term(5)).toBe(2);
    storage.append(ents(1, [1, 1])); // wholly compacted: nothing to do
    expect(storage.lastIndex()).toBe(5);
  });

  it('createSnapshot records index, term, membership and data', () => {
    const storage = storageWith([1, 2, 2]);
    const snap = storage.createSnapshot(2, conf, new Uint8Array([7]));
    expect(snap.metadata).toEqual({ index: 2, term: 2, confState: conf });
    expect(storage.snapshot()).toBe(snap);
    expect(storage.initialState().confState).toEqual(conf);
    // Taking a snapshot compacts nothing by itself.
    expect(storage.firstIndex()).toBe(1);
  });

  it('createSnapshot must be newer than the last one and within the log', () => {
    const storage = storageWith([1, 2, 2]);
    storage.createSnapshot(2, conf, new Uint8Array(0));
    expect(() => storage.createSnapshot(2, conf, new Uint8Array(0))).toThrow(AssertionFailure);
    expect(() => storage.createSnapshot(4, conf, new Uint8Array(0))).toThrow(AssertionFailure);
  });

  it('compact drops entries up to the index and no further than the snapshot', () => {
    const storage = storageWith([1, 1, 2, 2, 3]);
    expect(() => storage.compact(2)).toThrow(AssertionFailure);
    storage.createSnapshot(4, conf, new Uint8Array(0));
    storage.compact(2); // may keep entries between the compaction point and the snapshot
    expect(storage.firstIndex()).toBe(3);
    expect(storage.term(2)).toBe(1);
    storage.compact(1); // older than the current point: nothing to do
    expect(storage.firstIndex()).toBe(3);
    storage.compact(4);
    expect(storage.firstIndex()).toBe(5);
    expect(storage.lastIndex()).toBe(5);
  });

  it('applySnapshot replaces everything; an older snapshot is ignored', () => {
    const storage = storageWith([1, 1, 2]);
    const snap = { metadata: { index: 10, term: 4, confState: conf }, data: new Uint8Array(0) };
    storage.applySnapshot(snap);
    expect(storage.firstIndex()).toBe(11);
    expect(storage.lastIndex()).toBe(10);
    expect(storage.term(10)).toBe(4);
    storage.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: 5 } });
    expect(storage.snapshot()).toBe(snap);
  });

  it('save applies snapshot, then entries, then the hard state', () => {
    const storage = new MemoryStorage();
    const snap = { metadata: { index: 5, term: 2, confState: conf }, data: new Uint8Array(0) };
    storage.save({ hardState: { term: 3, vote: '2', commit: 6 }, entries: ents(6, [3]), snapshot: snap });
    expect(storage.firstIndex()).toBe(6);
    expect(storage.lastIndex()).toBe(6);
    expect(storage.initialState().hardState).toEqual({ term: 3, vote: '2', commit: 6 });
    storage.save({ hardState: null, entries: [], snapshot: null });
    expect(storage.initialState().hardState).toEqual({ term: 3, vote: '2', commit: 6 });
  });

  it('bootstrap writes one committed membership entry per founding member at term 1', () => {
    const storage = MemoryStorage.bootstrap(['3', '1', '2'], ['4']);
    expect(storage.lastIndex()).toBe(4);
    expect(storage.initialState().hardState).toEqual({ term: 1, vote: '', commit: 4 });
    const changes = storage.entries(1, 5, Number.MAX_SAFE_INTEGER).map((e) => {
      expect(e.term).toBe(1);
      expect(e.type).toBe(EntryType.ConfChange);
      return decodeConfChange(e.data, e.index);
    });
    expect(changes.map((c) => `${c.type}:${c.nodeId}`)).toEqual(['0:1', '0:2', '0:3', '1:4']);
  });
});
