import { assert } from './errors.js';
import type { Entry, Snapshot } from './types.js';

/**
 * Entries (and at most one incoming snapshot) not yet written to stable
 * storage. `entries[i]` has index `offset + i`. When a snapshot is present,
 * `offset === snapshot.index + 1`.
 */
export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot === null ? null : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? null : this.snapshot.metadata.index;
  }

  maybeTerm(index: number): number | null {
    if (index < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
      return null;
    }
    const last = this.maybeLastIndex();
    if (last === null || index > last) return null;
    return this.entries[index - this.offset]!.term;
  }

  /** Entries up to `index` (with `term`) are durable; drop them from here. */
  stableTo(index: number, term: number): void {
    const current = this.maybeTerm(index);
    if (current === null || index < this.offset) return;
    // A newer leader may have replaced the entry since the Ready was built.
    if (current !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends `entries`, replacing everything from their first index on. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // Replaces stable entries too; storage truncates them when persisting.
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = [...this.entries.slice(0, after - this.offset), ...entries];
    }
  }

  /** Entries in [lo, hi), which must lie within the unstable range. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi, `unstable slice [${lo},${hi}) out of [${this.offset},${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
