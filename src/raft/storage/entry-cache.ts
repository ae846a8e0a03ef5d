import { entryBytes, type Entry } from '../core/types.js';

/**
 * The most recent entries, a contiguous run ending at the last index, at most
 * `bytesMax` by `entryBytes`. Recent entries are what followers and the apply
 * loop ask for; older ones come from disk. A head cursor makes eviction from
 * the front amortized O(1).
 */
export class EntryCache {
  private items: Entry[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  get(index: number): Entry | undefined {
    const first = this.items[this.head];
    if (first === undefined || index < first.index) return undefined;
    return this.items[this.head + index - first.index];
  }

  /** Adds entries that continue the log at `entries[0].index`, dropping any cached suffix they replace. */
  append(entries: readonly Entry[]): void {
    const start = entries[0];
    if (start === undefined) return;
    const first = this.items[this.head];
    const last = this.items[this.items.length - 1];
    if (first === undefined || last === undefined || start.index < first.index || start.index > last.index + 1) {
      this.clear();
    } else {
      const keep = this.head + start.index - first.index;
      for (let i = keep; i < this.items.length; i++) this.bytes -= entryBytes(this.items[i]!);
      this.items.length = keep;
    }
    for (const entry of entries) {
      this.items.push(entry);
      this.bytes += entryBytes(entry);
    }
    this.evict();
  }

  /** Forgets entries up to and including `index` (compacted away). */
  dropThrough(index: number): void {
    while (this.head < this.items.length && this.items[this.head]!.index <= index) this.dropHead();
    this.reclaim();
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }

  toArray(): Entry[] {
    return this.items.slice(this.head);
  }

  private evict(): void {
    while (this.bytes > this.bytesMax && this.head < this.items.length) this.dropHead();
    this.reclaim();
  }

  private dropHead(): void {
    this.bytes -= entryBytes(this.items[this.head]!);
    this.head++;
  }

  /** Drops the evicted prefix once it is half the array, keeping eviction amortized O(1). */
  private reclaim(): void {
    if (this.head > 0 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

