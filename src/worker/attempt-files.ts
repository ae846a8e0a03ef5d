// Removes finished attempts' directories (output.log, junit.xml) from the
// work dir. The worker is not told when the coordinators prune a run, so it
// keeps a bounded local history instead: an attempt's files go once they are
// older than the retention (by default the coordinators' default run
// retention, so `testudo runs log` keeps working for as long as the run is
// listed) or once more than `attemptDirsMax` finished attempts are kept,
// oldest first. Never the files of an attempt still running or whose result
// is still in the outbox: those are "busy" and skipped.

import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sanitizeId } from './executor.js';

/** Finished attempts' directories kept at most (oldest removed first). */
export const attemptDirsMaxDefault = 1000;
/** Finished attempts' directories are removed this long after they end (7 days, the coordinators' default run retention). */
export const attemptRetentionMsDefault = 7 * 24 * 3600 * 1000;
/** Directories removed per prune, so one prune never holds the worker for long; the rest go on the next. */
export const attemptDirsRemovedPerPruneMax = 500;

export interface AttemptFilesOptions {
  readonly attemptDirsMax?: number;
  readonly attemptRetentionMs?: number;
}

/** What one prune did. */
export interface PruneOutcome {
  readonly removed: number;
  /** Over a bound but busy (running, or result still in the outbox). */
  readonly skippedBusy: number;
  readonly kept: number;
}

export class AttemptFiles {
  /** Directory name → when its attempt finished (ms), oldest first. */
  private readonly finished = new Map<string, number>();
  private pruning = false;

  private constructor(
    private readonly root: string,
    readonly attemptDirsMax: number,
    readonly attemptRetentionMs: number,
  ) {}

  /**
   * Scans `<workDir>/attempts` once: a directory left by an earlier run of
   * the worker counts as finished when its files were last written.
   */
  static async open(workDir: string, options: AttemptFilesOptions = {}): Promise<AttemptFiles> {
    const attemptDirsMax = options.attemptDirsMax ?? attemptDirsMaxDefault;
    const attemptRetentionMs = options.attemptRetentionMs ?? attemptRetentionMsDefault;
    if (!Number.isSafeInteger(attemptDirsMax) || attemptDirsMax < 0) throw new RangeError(`attemptDirsMax must be a non-negative integer, got ${attemptDirsMax}`);
    if (!Number.isSafeInteger(attemptRetentionMs) || attemptRetentionMs < 0) throw new RangeError(`attemptRetentionMs must be a non-negative integer, got ${attemptRetentionMs}`);
    const files = new AttemptFiles(path.join(workDir, 'attempts'), attemptDirsMax, attemptRetentionMs);
    let names: string[] = [];
    try {
      names = await readdir(files.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const found: [string, number][] = [];
    for (const name of names) {
      const atMs = await lastWrittenMs(path.join(files.root, name));
      if (atMs !== null) found.push([name, atMs]);
    }
    found.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    for (const [name, atMs] of found) files.finished.set(name, atMs);
    return files;
  }

  /** Finished attempts whose directories are kept (or may exist). */
  get size(): number {
    return this.finished.size;
  }

  /** Records that these attempts ended (their results are committed) at `atMs`. */
  noteFinished(attemptIds: readonly string[], atMs: number): void {
    for (const id of attemptIds) {
      const name = sanitizeId(id);
      // Re-inserted at the end: the map stays in finishing order.
      this.finished.delete(name);
      this.finished.set(name, atMs);
    }
  }

  /**
   * After the leader confirmed these results: notes them finished, then
   * prunes. `busyAttemptIds` are the attempts running or whose result is
   * still in the outbox; their files stay whatever their age.
   */
  async afterCommitted(attemptIds: readonly string[], nowMs: number, busyAttemptIds: Iterable<string>): Promise<PruneOutcome> {
    this.noteFinished(attemptIds, nowMs);
    const busy = new Set([...busyAttemptIds].map(sanitizeId));
    return this.prune(nowMs, (name) => busy.has(name));
  }

  /**
   * Removes the directories over either bound, oldest first, skipping the
   * busy ones (`busy(attemptId-derived directory name)`). One prune at a
   * time; a call while one runs does nothing.
   */
  async prune(nowMs: number, busy: (dirName: string) => boolean): Promise<PruneOutcome> {
    const oldest = this.finished.values().next();
    const due = this.finished.size > this.attemptDirsMax || (oldest.done !== true && nowMs - oldest.value >= this.attemptRetentionMs);
    if (this.pruning || !due) return { removed: 0, skippedBusy: 0, kept: this.finished.size };
    this.pruning = true;
    try {
      let removed = 0;
      let skippedBusy = 0;
      let over = this.finished.size - this.attemptDirsMax;
      for (const [name, atMs] of [...this.finished]) {
        if (removed >= attemptDirsRemovedPerPruneMax) break;
        const expired = nowMs - atMs >= this.attemptRetentionMs;
        if (over <= 0 && !expired) break; // the rest are newer
        if (busy(name)) {
          skippedBusy++;
          continue;
        }
        await rm(path.join(this.root, name), { recursive: true, force: true });
        this.finished.delete(name);
        removed++;
        over--;
      }
      return { removed, skippedBusy, kept: this.finished.size };
    } finally {
      this.pruning = false;
    }
  }
}

/** When the directory or a file in it was last written; null when it is not a directory. */
async function lastWrittenMs(dir: string): Promise<number | null> {
  let latest: number;
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) return null;
    latest = info.mtimeMs;
  } catch {
    return null;
  }
  for (const file of ['output.log', 'junit.xml']) {
    try {
      latest = Math.max(latest, (await stat(path.join(dir, file))).mtimeMs);
    } catch {
      // absent
    }
  }
  return Math.floor(latest);
}
