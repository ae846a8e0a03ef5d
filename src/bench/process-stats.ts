import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/**
 * What `bench raft` reads about the processes it runs: CPU time from
 * /proc/<pid>/stat, and a coordinator's event-loop lag and GC pauses from
 * its /metrics. Readings are cumulative; a measurement is the difference of
 * two readings taken around the timed writes.
 */

let ticksPerSecondCached: number | null = null;

/** The kernel's clock ticks per second (USER_HZ), the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecondCached === null) {
    let ticks = 100; // USER_HZ on every mainstream Linux build
    try {
      const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
      if (/^\d+$/.test(text) && Number(text) > 0) ticks = Number(text);
    } catch {
      // no getconf: keep the usual value
    }
    ticksPerSecondCached = ticks;
  }
  return ticksPerSecondCached;
}

/** utime + stime, in seconds, from the text of /proc/<pid>/stat. */
export function parseProcStatCpuSeconds(text: string, ticksPerSecond: number): number {
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields are counted after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime) || utime < 0 || stime < 0) {
    throw new Error(`/proc/<pid>/stat has no utime/stime: ${text.slice(0, 80)}`);
  }
  return (utime + stime) / ticksPerSecond;
}

/** The thread name (field 2) of a /proc stat line. */
export function parseProcStatName(text: string): string {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  return text.slice(open + 1, close);
}

/**
 * CPU seconds of each live thread of `pid`, summed by thread name, with the
 * main (JavaScript) thread as `main`. Node 20 leaves its other threads
 * named `node` (libuv's pool, which runs LevelDB's writes and fsyncs, and
 * V8's platform workers: concurrent GC, the optimising compiler): they are
 * summed as `other`. A thread that exits takes its time with it (Node's are
 * long-lived).
 */
export async function readThreadCpuSeconds(pid: number): Promise<Map<string, number>> {
  const byName = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread exited meanwhile
    }
    const comm = parseProcStatName(text);
    const name = tid === String(pid) ? 'main' : comm === 'node' ? 'other' : comm;
    byName.set(name, (byName.get(name) ?? 0) + parseProcStatCpuSeconds(text, clockTicksPerSecond()));
  }
  return byName;
}

/** CPU seconds (user + system) process `pid` has used so far. */
export async function readProcessCpuSeconds(pid: number): Promise<number> {
  return parseProcStatCpuSeconds(await readFile(`/proc/${pid}/stat`, 'utf8'), clockTicksPerSecond());
}

/** Busy CPU seconds of the whole machine (every CPU's user, nice, system, irq, softirq and steal time) from the text of /proc/stat. */
export function parseMachineBusySeconds(text: string, ticksPerSecond: number): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('/proc/stat has no "cpu" line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (f[i] ?? 0), 0);
  if (!Number.isSafeInteger(busy) || f.length < 8) throw new Error(`/proc/stat's "cpu" line is not as expected: ${line.slice(0, 80)}`);
  return busy / ticksPerSecond;
}

/** Busy CPU seconds of the whole machine so far (parseMachineBusySeconds). */
export async function readMachineBusySeconds(): Promise<number> {
  return parseMachineBusySeconds(await readFile('/proc/stat', 'utf8'), clockTicksPerSecond());
}

/** One sample of the Prometheus text format: name, labels, value. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped; label values without escaped quotes, as ours are). */
export function parseMetricSamples(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) throw new Error(`not a metric sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: parseValue(match[3]!) });
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const value = Number(text);
  // prom-client writes NaN as 'Nan'.
  if (Number.isNaN(value) && text.toLowerCase() !== 'nan') throw new Error(`not a sample value: ${text}`);
  return value;
}

/** A coordinator's cumulative event-loop and GC figures at one moment. */
export interface LoopReading {
  /** `testudo_event_loop_lag_seconds` buckets: upper bound (seconds) → cumulative count. */
  readonly lagBuckets: ReadonlyMap<number, number>;
  /** `testudo_event_loop_lag_max_seconds`: the largest lag of the last few seconds. */
  readonly lagMaxSeconds: number;
  /** `nodejs_gc_duration_seconds` summed over kinds. */
  readonly gcSeconds: number;
  readonly gcCount: number;
  /** `testudo_disk_batch_entries`: synced writes and the entries they held. */
  readonly syncedWrites: number;
  readonly syncedEntries: number;
  /** `testudo_raft_leader_changes_seen_total` and `testudo_raft_term`: elections this coordinator saw. */
  readonly leaderChangesSeen: number;
  readonly term: number;
}

export function loopReading(samples: readonly MetricSample[]): LoopReading {
  const lagBuckets = new Map<number, number>();
  let lagMaxSeconds: number | null = null;
  let gcSeconds = 0;
  let gcCount = 0;
  let syncedWrites = 0;
  let syncedEntries = 0;
  let leaderChangesSeen = 0;
  let term = 0;
  for (const s of samples) {
    if (s.name === 'testudo_event_loop_lag_seconds_bucket') lagBuckets.set(parseValue(s.labels['le'] ?? 'NaN'), s.value);
    else if (s.name === 'testudo_event_loop_lag_max_seconds') lagMaxSeconds = s.value;
    else if (s.name === 'nodejs_gc_duration_seconds_sum') gcSeconds += s.value;
    else if (s.name === 'nodejs_gc_duration_seconds_count') gcCount += s.value;
    else if (s.name === 'testudo_disk_batch_entries_count') syncedWrites = s.value;
    else if (s.name === 'testudo_disk_batch_entries_sum') syncedEntries = s.value;
    else if (s.name === 'testudo_raft_leader_changes_seen_total') leaderChangesSeen = s.value;
    else if (s.name === 'testudo_raft_term') term = s.value;
  }
  if (lagBuckets.size === 0 || lagMaxSeconds === null) throw new Error('the metrics have no testudo_event_loop_lag_seconds (a coordinator older than the lag probe?)');
  return { lagBuckets, lagMaxSeconds, gcSeconds, gcCount, syncedWrites, syncedEntries, leaderChangesSeen, term };
}

/**
 * The q-quantile of the observations made between two readings of a
 * cumulative histogram, interpolated linearly within its bucket as
 * Prometheus's histogram_quantile does. 0 when nothing was observed.
 */
export function quantileBetween(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>, q: number): number {
  assert(q >= 0 && q <= 1, `quantile ${q} is outside [0, 1]`);
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  counts.forEach((c, i) => assert(c >= 0 && (i === 0 || c >= counts[i - 1]!), `bucket le=${bounds[i]} is not cumulative between the readings`));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return 0;
  const rank = q * total;
  const i = counts.findIndex((c) => c >= rank);
  const upper = bounds[i]!;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  // Above the last finite bound there is nothing to interpolate towards: report that bound, as Prometheus does.
  if (upper === Infinity) return lower;
  const below = i === 0 ? 0 : counts[i - 1]!;
  const inBucket = counts[i]! - below;
  return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
}

/** Longest a /metrics request may take before the reading is given up. */
export const metricsFetchTimeoutMs = 5000;

export async function fetchLoopReading(httpAddress: string): Promise<LoopReading> {
  const response = await fetch(`http://${httpAddress}/metrics`, { signal: AbortSignal.timeout(metricsFetchTimeoutMs) });
  if (!response.ok) throw new Error(`GET http://${httpAddress}/metrics answered ${response.status}`);
  return loopReading(parseMetricSamples(await response.text()));
}
