import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/**
 * The read side of a node's stable storage, as the Raft core sees it.
 *
 * Contract:
 * - The log is the contiguous entries `[firstIndex(), lastIndex()]`. Everything
 *   below `firstIndex()` is compacted into `snapshot()`, whose index is at
 *   least `firstIndex() - 1` (entries just before the snapshot may be kept
 *   for followers that lag a little); `term(firstIndex() - 1)` is known.
 * - A restarted node's application resumes from `snapshot()`: the core
 *   hands it every committed entry after the snapshot's index.
 * - Reads are synchronous; they never see a write the driver has not finished.
 * - `entries` throws `CompactedError` below the first index and
 *   `UnavailableError` past the last; `term` does the same.
 * - Only the driver writes (through the implementation's own methods, after
 *   each Ready). The core never does.
 */
export interface Storage {
  /** Hard state and membership as last persisted. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in `[lo, hi)`, at most `maxBytes` in total by `entriesBytes`, but
   * always at least one entry when the range is not empty.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot (the empty snapshot when none was taken). */
  snapshot(): Snapshot;
}
