import { assert } from './errors.js';

/**
 * The append messages sent to one follower and not yet acknowledged, as a
 * bounded ring. A full window pauses replication to that follower, which caps
 * both the memory a slow follower can pin and the burst a pipeline can send.
 */
export class Inflights {
  private readonly indexes: number[];
  private readonly bytes: number[];
  private start = 0;
  private count = 0;
  private totalBytes = 0;

  constructor(
    /** Most unacknowledged append messages per follower. */
    readonly inflightMessagesMax: number,
    /** Most unacknowledged entry bytes per follower (0: no byte limit). */
    readonly inflightBytesMax: number,
  ) {
    assert(inflightMessagesMax > 0, 'inflightMessagesMax must be positive');
    this.indexes = new Array<number>(inflightMessagesMax).fill(0);
    this.bytes = new Array<number>(inflightMessagesMax).fill(0);
  }

  /** Records a message whose last entry is `index`. Indexes must increase. */
  add(index: number, messageBytes: number): void {
    assert(!this.full(), 'inflights: add on a full window');
    const last = this.count > 0 ? this.indexes[(this.start + this.count - 1) % this.inflightMessagesMax]! : -1;
    assert(index > last, `inflights: index ${index} not after ${last}`);
    const slot = (this.start + this.count) % this.inflightMessagesMax;
    this.indexes[slot] = index;
    this.bytes[slot] = messageBytes;
    this.count++;
    this.totalBytes += messageBytes;
  }

  /** Frees every message whose last index is at most `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.indexes[this.start]! <= index) {
      this.totalBytes -= this.bytes[this.start]!;
      this.start = (this.start + 1) % this.inflightMessagesMax;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message only. */
  freeFirst(): void {
    if (this.count === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count === this.inflightMessagesMax || (this.inflightBytesMax > 0 && this.totalBytes >= this.inflightBytesMax);
  }

  size(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.totalBytes = 0;
  }
}
