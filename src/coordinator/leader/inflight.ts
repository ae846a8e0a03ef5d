import { assert } from '../../common/assert.js';

/**
 * Proposals in flight, by key: at most one per key. A loop that asks again
 * while its proposal is out is skipped rather than doubled (a second
 * worker-lost for the same worker, a second prune).
 */
export class InflightProposals {
  private readonly keys = new Set<string>();

  /** Whether a proposal for `key` is out. */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * Starts `work` unless `key` is in flight; false when skipped. `work`
   * must handle its own failure: its promise never rejects.
   */
  maybeStart(key: string, work: () => Promise<void>): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    void work().finally(() => {
      const removed = this.keys.delete(key);
      assert(removed, `in-flight proposal ${key} ended twice`);
    });
    return true;
  }
}
