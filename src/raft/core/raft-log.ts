import { assert, CompactedError, UnavailableError } from './errors.js';
import type { Storage } from './storage.js';
import { entryBytes, type Entry, type Snapshot } from './types.js';
import { UnstableLog } from './unstable-log.js';

/**
 * A node's log: the stable part read through `Storage`, the unstable part not
 * yet persisted, and the commit and apply cursors.
 *
 * Invariants (asserted where they change):
 *   firstIndex - 1 <= snapshot.index <= applied <= committed <= lastIndex
 *   (entries between the compaction point and the snapshot may be kept, so a
 *   slightly lagging follower still gets entries instead of a snapshot)
 *   unstable.offset <= storage.lastIndex + 1
 */
export class RaftLog {
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    commit: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    // The application restarts from the snapshot, which may be newer than the
    // compaction point (entries after it are kept for slow followers).
    const snapshotIndex = storage.snapshot().metadata.index;
    assert(snapshotIndex >= first - 1 && snapshotIndex <= last, `snapshot ${snapshotIndex} outside [${first - 1}, ${last}]`);
    this.applied = snapshotIndex;
    assert(commit <= last, `hard state commit ${commit} is past the last stored index ${last}`);
    this.committed = Math.max(commit, snapshotIndex);
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The term of the entry at `index`; throws Compacted/Unavailable outside the log. */
  term(index: number): number {
    const dummy = this.firstIndex() - 1;
    if (index < dummy) throw new CompactedError(index, dummy + 1);
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.unstable.maybeTerm(index) ?? this.storage.term(index);
  }

  /** The term at `index`, or 0 when the index is outside the log. */
  termOrZero(index: number): number {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return 0;
    return this.term(index);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(index: number, term: number): boolean {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return false;
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a log is up to date if its last term is higher, or equal with at least our length. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries: if our entry at `index` has `logTerm`,
   * append `entries` (dropping those we already have, truncating on the first
   * conflict) and advance commit. Returns the last index the leader's message
   * proves we share, or null when the logs do not match at `index`.
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      this.append(entries.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Appends entries that follow or replace part of the log; returns the new last index. */
  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index - 1 >= this.committed, `append at ${first.index} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** The first index where `entries` disagree with the log, or where they go past it; 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index at or below `index` whose term is at most `term`, with
   * its term: where a leader with `term` at `index` may agree with us. Lets a
   * rejected append skip a whole term of divergent entries at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    const floor = this.firstIndex() - 1;
    // Below the compaction point nothing is known; never answer above `index`.
    if (i < floor) return { index: i, term: 0 };
    for (; i >= floor; i--) {
      const t = this.termOrZero(i);
      if (t <= term) return { index: i, term: t };
    }
    return { index: floor, term: 0 };
  }

  commitTo(commit: number): void {
    if (commit <= this.committed) return;
    assert(commit <= this.lastIndex(), `commit ${commit} is past the last index ${this.lastIndex()}`);
    this.committed = commit;
  }

  /** Commits `index` only if it holds an entry of `term` (Raft §5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index >= this.applied && index <= this.committed, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applied && this.unstable.snapshot === null;
  }

  /** Committed entries not yet applied, at most `maxBytes` (but at least one). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  /** Entries from `lo` to the end, at most `maxBytes` (but at least one). */
  entriesFrom(lo: number, maxBytes: number): Entry[] {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** Entries in [lo, hi) from storage then the unstable part, size-limited. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    assert(hi <= this.lastIndex() + 1 && lo <= hi, `slice [${lo},${hi}) outside log ending ${this.lastIndex()}`);
    if (lo === hi) return [];
    const out: Entry[] = [];
    const split = this.unstable.offset;
    if (lo < split) {
      out.push(...this.storage.entries(lo, Math.min(hi, split), maxBytes));
      const reached = lo + out.length;
      if (reached < Math.min(hi, split)) return out; // size limit hit inside storage
    }
    if (hi > split) {
      let bytes = 0;
      for (const e of out) bytes += entryBytes(e);
      for (const e of this.unstable.slice(Math.max(lo, split), hi)) {
        bytes += entryBytes(e);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }
}
