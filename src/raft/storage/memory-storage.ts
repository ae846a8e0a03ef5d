import { assert, CompactedError, UnavailableError } from '../core/errors.js';
import { bootstrapState } from '../core/bootstrap.js';
import type { Storage } from '../core/storage.js';
import {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  entryBytes,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../core/types.js';

/**
 * Storage kept in memory: used by the simulator (where it plays the disk that
 * survives a crash) and by unit tests. Same write methods as LevelDbStorage,
 * but synchronous.
 *
 * `ents[0]` is a dummy entry holding the snapshot's index and term, so that
 * `term(firstIndex - 1)` needs no special case (as in etcd's MemoryStorage).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];

  /** The storage of a founding member of a new cluster (see `bootstrapState`). */
  static bootstrap(voters: readonly string[], learners: readonly string[] = []): MemoryStorage {
    const storage = new MemoryStorage();
    const { hardState, entries } = bootstrapState({ voters, learners });
    storage.save({ hardState, entries, snapshot: null });
    return storage;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.ents[i - offset];
      assert(entry !== undefined && entry.index === i, `memory storage hole at ${i}`);
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new CompactedError(index, offset + 1);
    const entry = this.ents[index - offset];
    if (entry === undefined) throw new UnavailableError(index, this.lastIndex());
    return entry.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Persists one Ready's worth of state, as LevelDbStorage does in one batch. */
  save(update: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null }): void {
    if (update.snapshot !== null) this.applySnapshot(update.snapshot);
    if (update.entries.length > 0) this.append(update.entries);
    if (update.hardState !== null) this.hardState = update.hardState;
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /** Replaces everything with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snap.metadata.index) return;
    this.snap = snapshot;
    this.ents = [{ term: snapshot.metadata.term, index: snapshot.metadata.index, type: 0, data: new Uint8Array(0) }];
  }

  /** Records a snapshot of the application's state at applied index `index`. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const offset = this.offset();
    assert(index > this.snap.metadata.index, `snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    assert(index <= this.lastIndex(), `snapshot at ${index} is past last index ${this.lastIndex()}`);
    const term = this.ents[index - offset]?.term ?? 0;
    this.snap = { metadata: { index, term, confState }, data };
    return this.snap;
  }

  /** Drops entries up to and including `compactIndex`, which must be snapshotted. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} past last index ${this.lastIndex()}`);
    assert(compactIndex <= this.snap.metadata.index, `compact ${compactIndex} beyond snapshot ${this.snap.metadata.index}`);
    const first = this.ents[compactIndex - offset];
    assert(first !== undefined, 'compact index inside log');
    this.ents = [{ term: first.term, index: first.index, type: 0, data: new Uint8Array(0) }, ...this.ents.slice(compactIndex - offset + 1)];
  }

  /** Appends entries, first truncating any suffix they conflict with. */
  append(entries: readonly Entry[]): void {
    const firstNew = entries[0];
    if (firstNew === undefined) return;
    const offset = this.offset();
    const last = entries[entries.length - 1]!.index;
    if (last <= offset) return;
    // Entries already compacted are committed; skip them.
    const usable = firstNew.index <= offset ? entries.slice(offset + 1 - firstNew.index) : entries;
    const start = usable[0]!.index;
    assert(start <= this.lastIndex() + 1, `append at ${start} leaves a gap after ${this.lastIndex()}`);
    this.ents = [...this.ents.slice(0, start - offset), ...usable];
  }

  private offset(): number {
    return this.ents[0]!.index;
  }
}
