import type { Capabilities, Requirements } from '../../model/index.js';
import { meetsRequirements } from './scheduler.js';

/**
 * Bounded histories kept in the replicated state: measured durations (per
 * test file, or per task when it has no files) and flakiness per test.
 *
 * Both are Maps whose insertion order is the order of their last update (an
 * update deletes and re-inserts), so evicting the first key drops the least
 * recently updated one, the same way on every replica.
 */

export interface TimingRecord {
  /** Exponentially weighted moving average, ms. */
  readonly ms: number;
  readonly samples: number;
}

/** Weight of the newest sample in the moving average. */
export const timingAlpha = 0.3;
/** Durations remembered; the least recently updated is forgotten first. */
export const timingEntriesMax = 100_000;
/** The least a file counts for when files are split by timings (splitByTimings). */
export const splitEstimateFloorMs = 1;
/** Expected duration when nothing at all is known yet. */
export const timingUnknownMs = 1000;

export class TimingHistory {
  private readonly entries = new Map<string, TimingRecord>();
  private medianCache: number | null = null;

  constructor(private readonly entriesMax = timingEntriesMax) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): TimingRecord | undefined {
    return this.entries.get(key);
  }

  record(key: string, ms: number): void {
    const sample = Math.max(0, Math.round(ms));
    const old = this.entries.get(key);
    const next: TimingRecord =
      old === undefined ? { ms: sample, samples: 1 } : { ms: Math.round(old.ms + timingAlpha * (sample - old.ms)), samples: old.samples + 1 };
    this.entries.delete(key);
    this.entries.set(key, next);
    while (this.entries.size > this.entriesMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.medianCache = null;
  }

  /** The median of every remembered duration (lower middle), or timingUnknownMs when empty. */
  median(): number {
    if (this.medianCache !== null) return this.medianCache;
    const values = [...this.entries.values()].map((r) => r.ms).sort((a, b) => a - b);
    this.medianCache = values.length === 0 ? timingUnknownMs : (values[(values.length - 1) >> 1] as number);
    return this.medianCache;
  }

  toJSON(): [string, number, number][] {
    return [...this.entries].map(([key, r]) => [key, r.ms, r.samples]);
  }

  static fromJSON(rows: unknown, entriesMax = timingEntriesMax): TimingHistory {
    const history = new TimingHistory(entriesMax);
    if (!Array.isArray(rows)) throw new TypeError('timings must be an array');
    for (const row of rows) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || !Number.isFinite(row[1]) || !Number.isSafeInteger(row[2])) {
        throw new TypeError('a timing row is malformed');
      }
      history.entries.set(row[0], { ms: row[1] as number, samples: row[2] as number });
    }
    return history;
  }
}

export interface FlakeRecord {
  /** Runs of the test that reached a verdict. */
  readonly runs: number;
  /** Of those, runs where it failed and then passed on a retry. */
  readonly flaky: number;
}

export const flakeEntriesMax = 100_000;

export class FlakeHistory {
  private readonly entries = new Map<string, FlakeRecord>();

  constructor(private readonly entriesMax = flakeEntriesMax) {}

  get size(): number {
    return this.entries.size;
  }

  record(testKey: string, flaky: boolean): void {
    const old = this.entries.get(testKey) ?? { runs: 0, flaky: 0 };
    this.entries.delete(testKey);
    this.entries.set(testKey, { runs: old.runs + 1, flaky: old.flaky + (flaky ? 1 : 0) });
    while (this.entries.size > this.entriesMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** The test's record, or undefined for an unknown test. */
  get(testKey: string): FlakeRecord | undefined {
    return this.entries.get(testKey);
  }

  /** Share of runs that were flaky (0..1), or undefined for an unknown test. */
  rate(testKey: string): number | undefined {
    const r = this.entries.get(testKey);
    return r === undefined || r.runs === 0 ? undefined : r.flaky / r.runs;
  }

  toJSON(): [string, number, number][] {
    return [...this.entries].map(([key, r]) => [key, r.runs, r.flaky]);
  }

  static fromJSON(rows: unknown, entriesMax = flakeEntriesMax): FlakeHistory {
    const history = new FlakeHistory(entriesMax);
    if (!Array.isArray(rows)) throw new TypeError('flakiness must be an array');
    for (const row of rows) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || !Number.isSafeInteger(row[1]) || !Number.isSafeInteger(row[2])) {
        throw new TypeError('a flakiness row is malformed');
      }
      history.entries.set(row[0], { runs: row[1] as number, flaky: row[2] as number });
    }
    return history;
  }
}

/**
 * Splits files into `shards` groups of near-equal expected time: longest
 * first, each to the group with the least time so far (LPT; ties to the lower
 * group). Each group's files come back sorted. Deterministic. An estimate
 * counts at least `splitEstimateFloorMs`: a history of 0 ms files (a
 * reporter that writes time="0") would otherwise leave every group at 0 and
 * put every file in the first.
 */
export function splitByTimings(files: readonly string[], shards: number, estimateMs: (file: string) => number): string[][] {
  const groups: { ms: number; files: string[] }[] = Array.from({ length: Math.max(1, shards) }, () => ({ ms: 0, files: [] }));
  const ordered = files.map((file) => ({ file, ms: Math.max(splitEstimateFloorMs, estimateMs(file)) })).sort((a, b) => b.ms - a.ms || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (const { file, ms } of ordered) {
    let target = groups[0]!;
    for (const group of groups) if (group.ms < target.ms) target = group;
    target.files.push(file);
    target.ms += ms;
  }
  return groups.map((g) => g.files.sort());
}

/**
 * The history key of a test file's duration: for one capability class (the
 * breaker's peer classes, worker-health.ts capabilityKeyOf), or for every
 * class together when `classKey` is ''. Class-less keys are the ones
 * snapshots held before classes, so those stay readable.
 */
export function fileTimingKey(suite: string, file: string, classKey = ''): string {
  return classKey === '' ? `${suite}\u0000${file}` : `@${classKey}\u0000${suite}\u0000${file}`;
}

/**
 * A file's expected duration for a capability class: its class's record,
 * else the class-less one (the file ran elsewhere), else the median.
 */
export function fileEstimator(history: TimingHistory, suite: string, classKey: string): (file: string) => number {
  const median = history.median();
  return (file) => (classKey === '' ? undefined : history.get(fileTimingKey(suite, file, classKey)))?.ms ?? history.get(fileTimingKey(suite, file))?.ms ?? median;
}

/** The part of a worker the class choice reads. */
export interface ClassCandidate {
  readonly capabilityKey: string;
  readonly capabilities: Capabilities;
  readonly slots: number;
  readonly state: string;
}

/**
 * The capability class whose history predicts a suite best before any of its
 * workers is picked: among registered workers (not lost) that meet its
 * requirements, the class with the most slots (ties: the smaller key); ''
 * (class-less history) when none does.
 */
export function classOfSuite(workers: Iterable<ClassCandidate>, requirements: Requirements): string {
  const slots = new Map<string, number>();
  for (const w of workers) {
    if (w.state === 'lost' || !meetsRequirements(w.capabilities, requirements)) continue;
    slots.set(w.capabilityKey, (slots.get(w.capabilityKey) ?? 0) + w.slots);
  }
  let best = '';
  let bestSlots = 0;
  for (const [key, n] of slots) if (n > bestSlots || (n === bestSlots && key < best)) [best, bestSlots] = [key, n];
  return best;
}
