import { Level } from 'level';
import type { AttemptResult } from '../model/types.js';
import { crc32c } from '../raft/crc32c.js';

/**
 * The outbox's candidate on LevelDB, for `testudo bench outbox` to weigh
 * against the hand-written log (src/worker/outbox.ts). It keeps the log's
 * write pattern so the comparison is of the storage, not of the batching:
 * puts of one event-loop turn go into one `db.batch(ops, {sync: true})` (the
 * log's group commit), confirms into an unsynced batch of deletes, and a put
 * resolves only after its batch is synced. Keys are attempt ids (UTF-8);
 * values are `crc32c(json) (u32 BE) ++ json`, checked when loaded.
 *
 * Only what the benchmark drives: no limits, no damage reporting, no
 * migration (the log has them; a port would need them too).
 */
export class LevelDbOutboxCandidate {
  private readonly held = new Set<string>();
  private ops: BatchOp[] = [];
  private sync = false;
  private waiters: Waiter[] = [];
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private syncs = 0;

  private constructor(private readonly db: Db) {}

  static async open(dir: string): Promise<LevelDbOutboxCandidate> {
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const outbox = new LevelDbOutboxCandidate(db);
    for await (const [key, value] of db.iterator()) {
      if (value.byteLength < 4 || crc32c(value.subarray(4)) !== Buffer.from(value.buffer, value.byteOffset, 4).readUInt32BE(0)) continue;
      outbox.held.add(Buffer.from(key).toString('utf8'));
    }
    return outbox;
  }

  get size(): number {
    return this.held.size;
  }

  /** Synced batches written (one per group commit). */
  get syncedBatches(): number {
    return this.syncs;
  }

  put(result: AttemptResult): Promise<void> {
    if (this.held.has(result.attemptId)) return Promise.resolve();
    const json = Buffer.from(JSON.stringify(result), 'utf8');
    const value = Buffer.allocUnsafe(4 + json.length);
    json.copy(value, 4);
    value.writeUInt32BE(crc32c(json), 0);
    this.held.add(result.attemptId);
    return this.enqueue([{ type: 'put', key: Buffer.from(result.attemptId, 'utf8'), value }], true);
  }

  confirm(attemptIds: readonly string[]): Promise<void> {
    const ops: BatchOp[] = [];
    for (const id of attemptIds) if (this.held.delete(id)) ops.push({ type: 'del', key: Buffer.from(id, 'utf8') });
    return ops.length === 0 ? Promise.resolve() : this.enqueue(ops, false);
  }

  async close(): Promise<void> {
    while (this.draining) await this.idle;
    await this.db.close();
  }

  private enqueue(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ops.push(...ops);
      if (sync) this.sync = true;
      this.waiters.push({ resolve, reject });
      if (this.draining) return;
      this.draining = true;
      this.idle = new Promise<void>((done) => {
        setImmediate(() => {
          this.drain().then(done, done);
        });
      });
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiters.length > 0) {
        const ops = this.ops;
        const sync = this.sync;
        const waiters = this.waiters;
        this.ops = [];
        this.sync = false;
        this.waiters = [];
        try {
          await this.db.batch(ops, { sync });
          if (sync) this.syncs++;
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

type Db = Level<Uint8Array, Uint8Array>;
type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}
