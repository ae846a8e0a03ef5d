import type { ConfState } from '../core/types.js';
import type { LevelDbStorage } from '../storage/leveldb-storage.js';
import type { StateMachine } from './state-machine.js';

/** What the snapshot scheduler needs of its RaftNode. */
export interface SnapshotHost {
  readonly storage: LevelDbStorage;
  readonly sm: StateMachine<unknown>;
  /** The last index the machine applied. */
  applied(): number;
  /** Membership as of that index. */
  appliedConfState(): ConfState;
  /** Runs one storage write of the Ready loop (the leader's heartbeats still leave during a long one). */
  whileWriting<T>(write: () => Promise<T>): Promise<T>;
  /** Wakes the Ready loop. */
  kick(): void;
  stopping(): boolean;
  onSnapshotSaved?(seconds: number, index: number): void;
}

/** A snapshot of the machine at `index`, being encoded in slices. */
interface SnapshotJob {
  readonly index: number;
  readonly confState: ConfState;
  /** performance.now() at the capture: the saved snapshot's reported time counts from here. */
  readonly startMs: number;
  data: Uint8Array | null;
  error: unknown;
}

/**
 * When a RaftNode snapshots its state machine and compacts its log: after
 * `snapshotEntries` applied entries or `snapshotBytes` bytes of applied
 * entries' data, whichever comes first, a snapshot, then a compaction that
 * keeps `catchUpEntries` entries behind it for slightly slow followers. The
 * bytes bound the log a restart replays when entries are large (a batch of
 * writes, a run's submission); they count from the last snapshot this node
 * took or installed, or from its start (a restarted node counts the entries
 * it replays again).
 */
export class SnapshotScheduler {
  private job: SnapshotJob | null = null;
  /** Data bytes applied since the last snapshot began (or was installed, or the node started). */
  private bytesSince = 0;

  constructor(
    private readonly host: SnapshotHost,
    private readonly snapshotEntries: number,
    private readonly catchUpEntries: number,
    private readonly snapshotBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  /** The apply loop applied an entry holding `bytes` of data. */
  noteApplied(bytes: number): void {
    this.bytesSince += bytes;
  }

  /**
   * Called by the Ready loop after each Ready: takes a snapshot, or compacts
   * the log behind the last one, at most one storage write per call. Either
   * write holds up the Ready loop, so the compaction waits for the next call
   * rather than lengthen the snapshot's. A machine that encodes its snapshot
   * in slices (snapshotInSlices) is captured here and encoded between loop
   * turns (`encode`); a later call writes the bytes. Otherwise the whole
   * encoding runs here, in the loop, as one block of the event loop.
   */
  async step(): Promise<void> {
    const { storage, sm } = this.host;
    const snapIndex = storage.snapshot().metadata.index;
    const compactTo = snapIndex - this.catchUpEntries;
    if (compactTo >= storage.firstIndex()) {
      await this.host.whileWriting(() => storage.compact(compactTo));
      return;
    }
    const job = this.job;
    if (job !== null) {
      if (job.error !== null) throw job.error;
      if (job.data === null) return;
      this.job = null;
      await this.save(job.index, job.confState, job.data, job.startMs);
      return;
    }
    const index = this.host.applied();
    if (index <= snapIndex || (index - snapIndex < this.snapshotEntries && this.bytesSince < this.snapshotBytes)) return;
    this.bytesSince = 0;
    const startMs = performance.now();
    const confState = this.host.appliedConfState();
    if (sm.snapshotInSlices === undefined) {
      await this.save(index, confState, sm.snapshot(), startMs);
      return;
    }
    const started: SnapshotJob = { index, confState, startMs, data: null, error: null };
    this.job = started;
    void this.encode(started, sm.snapshotInSlices());
  }

  /** A sliced snapshot ended (its bytes, or its error) and waits for `step`. */
  get encoded(): boolean {
    return this.job !== null && (this.job.data !== null || this.job.error !== null);
  }

  /** The state was replaced by a snapshot from the leader: the capture in progress is older, and dropped. */
  drop(): void {
    this.job = null;
    this.bytesSince = 0;
  }

  private async save(index: number, confState: ConfState, data: Uint8Array, startMs: number): Promise<void> {
    // A snapshot from the leader installed meanwhile is newer.
    if (index <= this.host.storage.snapshot().metadata.index) return;
    await this.host.whileWriting(() => this.host.storage.createSnapshot(index, confState, data));
    this.host.onSnapshotSaved?.((performance.now() - startMs) / 1000, index);
  }

  /**
   * Runs a snapshot's slices one per event-loop turn (setImmediate), so the
   * Ready loop, the ticks and the transport run between them; then wakes the
   * Ready loop to write it. A failed slice is the Ready loop's to throw: a
   * machine that cannot encode its state is as fatal as a failed write.
   */
  private async encode(job: SnapshotJob, slices: Generator<void, Uint8Array, void>): Promise<void> {
    try {
      for (;;) {
        const step = slices.next();
        if (step.done === true) {
          job.data = step.value;
          break;
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.job !== job || this.host.stopping()) return;
      }
    } catch (error) {
      job.error = error;
    }
    this.host.kick();
  }
}
