/**
 * Pure analysis of a chaos run: the safety checks (lost tasks, results
 * counted twice, divergent replicas, two leaders in one term) and the
 * recovery figures, from the final run view, the nodes' NDJSON logs and the
 * harness's samples. No I/O and no clock, so a checker can be shown to fail
 * on planted evidence.
 */
import type { RunView, TaskState } from '../model/index.js';
import type { FaultGroup, FaultOutcome, ThroughputSample } from './results.js';

const terminal: ReadonlySet<TaskState> = new Set(['passed', 'failed', 'failed-infra', 'cancelled']);

export interface Finding {
  readonly check: 'lost' | 'duplicate' | 'divergent' | 'split-brain' | 'steady-state';
  readonly text: string;
}

/** Tasks missing from the run or not in a terminal state. */
export function lostTasks(run: RunView | null, expectedTasks: number): Finding[] {
  if (run === null) return Array.from({ length: expectedTasks }, (_, i) => ({ check: 'lost' as const, text: `task #${i + 1}: the run is gone` }));
  const out: Finding[] = [];
  for (const task of run.tasks) if (!terminal.has(task.state)) out.push({ check: 'lost', text: `${task.taskId} is still ${task.state}` });
  for (let i = run.tasks.length; i < expectedTasks; i++) out.push({ check: 'lost', text: `the run has ${run.tasks.length} tasks, ${expectedTasks} were submitted` });
  return out;
}

/**
 * Tasks with a result counted more than once: a verdict on an attempt that
 * had been superseded (lost or cancelled: a late result counted), more than
 * one passing verdict, or more verdicts than the task's retries allow.
 */
export function duplicateResults(run: RunView | null): Finding[] {
  if (run === null) return [];
  const out: Finding[] = [];
  for (const task of run.tasks) {
    const verdicts = task.attempts.filter((a) => a.result !== undefined && (a.result.outcome === 'passed' || a.result.outcome === 'failed'));
    const superseded = verdicts.filter((a) => a.state === 'lost' || a.state === 'cancelled');
    const passes = verdicts.filter((a) => a.result?.outcome === 'passed').length;
    if (superseded.length > 0) {
      out.push({ check: 'duplicate', text: `${task.taskId}: a late result was counted on ${superseded.map((a) => `${a.attemptId} (${a.state})`).join(', ')}` });
    } else if (passes > 1) {
      out.push({ check: 'duplicate', text: `${task.taskId}: ${passes} passing results counted` });
    } else if (verdicts.length > task.template.retries + 1) {
      out.push({ check: 'duplicate', text: `${task.taskId}: ${verdicts.length} verdicts counted, retries allow ${task.template.retries + 1}` });
    }
  }
  return out;
}

/** One sample of a replica: the state machine's applied index and its digest. */
export interface DigestSample {
  readonly applied: number;
  readonly digest: string;
}

/**
 * Replicas whose digest differs at the highest applied index every replica
 * was sampled at. No common index at all counts every replica but the most
 * advanced one as divergent (they never caught up).
 */
export function divergentReplicas(samples: ReadonlyMap<string, readonly DigestSample[]>): Finding[] {
  const ids = [...samples.keys()];
  if (ids.length === 0) return [];
  const byIndex = ids.map((id) => new Map((samples.get(id) ?? []).map((s) => [s.applied, s.digest])));
  const common = [...(byIndex[0]?.keys() ?? [])].filter((index) => byIndex.every((m) => m.has(index))).sort((a, b) => b - a)[0];
  if (common === undefined) {
    const last = ids.map((id) => ({ id, applied: Math.max(0, ...(samples.get(id) ?? []).map((s) => s.applied)) }));
    const top = Math.max(...last.map((l) => l.applied));
    return last.filter((l) => l.applied < top).map((l) => ({ check: 'divergent' as const, text: `${l.id} never reached applied index ${top} (last seen ${l.applied})` }));
  }
  const digests = byIndex.map((m) => m.get(common) ?? '');
  const counts = new Map<string, number>();
  for (const d of digests) counts.set(d, (counts.get(d) ?? 0) + 1);
  const majority = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  return ids.flatMap((id, i) =>
    digests[i] === majority ? [] : [{ check: 'divergent' as const, text: `${id}: digest ${digests[i]!.slice(0, 12)}… at applied index ${common}, others ${majority.slice(0, 12)}…` }],
  );
}

/** A log line of a node, as pino writes it (NDJSON). */
export interface LogEvent {
  readonly node: string;
  readonly timeMs: number;
  readonly event: string;
  readonly msg: string;
  readonly term?: number;
  readonly leader?: string;
  readonly role?: string;
  readonly workerId?: string;
}

/**
 * Terms in which some node became leader, from the nodes' `raft-state`
 * lines: 1 for a run with one election and no leader change since. A
 * fault-free run with more had spurious elections (a loaded machine, or a
 * neighbour's load when passes run side by side).
 */
export function leaderTerms(events: readonly LogEvent[]): number {
  const terms = new Set<number>();
  for (const e of events) if (e.event === 'raft-state' && e.role === 'leader' && e.term !== undefined) terms.add(e.term);
  return terms.size;
}

/** Parses a node's NDJSON log; lines that are not JSON are skipped. */
export function parseLog(node: string, text: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const timeMs = typeof o['time'] === 'number' ? o['time'] : Date.parse(String(o['time'] ?? ''));
    if (!Number.isFinite(timeMs)) continue;
    out.push({
      node,
      timeMs,
      event: typeof o['event'] === 'string' ? o['event'] : '',
      msg: typeof o['msg'] === 'string' ? o['msg'] : '',
      ...(typeof o['term'] === 'number' ? { term: o['term'] } : {}),
      ...(typeof o['leader'] === 'string' ? { leader: o['leader'] } : {}),
      ...(typeof o['role'] === 'string' ? { role: o['role'] } : {}),
      ...(typeof o['workerId'] === 'string' ? { workerId: o['workerId'] } : {}),
    });
  }
  return out;
}

/** Terms in which the nodes' logs name two different leaders (a node becoming leader, or a follower naming one). */
export function splitBrainTerms(events: readonly LogEvent[]): Finding[] {
  const leaders = new Map<number, Set<string>>();
  for (const e of events) {
    if (e.event !== 'raft-state' || e.term === undefined || e.leader === undefined || e.leader === '') continue;
    const set = leaders.get(e.term) ?? new Set<string>();
    set.add(e.leader);
    leaders.set(e.term, set);
  }
  return [...leaders.entries()]
    .filter(([, set]) => set.size > 1)
    .sort((a, b) => a[0] - b[0])
    .map(([term, set]) => ({ check: 'split-brain' as const, text: `term ${term} had leaders ${[...set].sort().join(' and ')}` }));
}

/** Log events that show the cluster noticed a fault. */
const detectionEvents: ReadonlySet<string> = new Set(['raft-state', 'worker-lost', 'breaker-transition', 'worker-reset', 'alert']);
const detectionMessages: ReadonlySet<string> = new Set(['worker session ended', 'worker registration failed']);

export function isDetection(e: LogEvent): boolean {
  return detectionEvents.has(e.event) || detectionMessages.has(e.msg);
}

/** Completed tasks per second in buckets of `bucketMs`, from the tasks' finish times (ms since the workload started). */
export function throughputSeries(finishedAtMs: readonly number[], endMs: number, bucketMs = 1_000): ThroughputSample[] {
  const buckets = Math.max(1, Math.ceil(endMs / bucketMs));
  const counts = new Array<number>(buckets).fill(0);
  for (const t of finishedAtMs) {
    if (t < 0) continue;
    const i = Math.min(buckets - 1, Math.floor(t / bucketMs));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts.map((n, i) => ({ tMs: (i + 1) * bucketMs, tasksPerSec: (n * 1000) / bucketMs }));
}

/** Mean of a rolling window of `width` samples ending at each sample. */
export function rolling(series: readonly ThroughputSample[], width = 5): ThroughputSample[] {
  return series.map((s, i) => {
    const from = Math.max(0, i - width + 1);
    const window = series.slice(from, i + 1);
    return { tMs: s.tMs, tasksPerSec: window.reduce((a, b) => a + b.tasksPerSec, 0) / window.length };
  });
}

/** How long after a fault heals its effect on throughput is still expected. */
export const settleMs = 5_000;

/**
 * Throughput without faults: the median of the smoothed samples that lie
 * outside every fault (from injection to settleMs after healing) and after
 * the first completion; all busy samples when every one is inside a fault.
 */
export function baselineThroughput(smoothed: readonly ThroughputSample[], faults: ReadonlyArray<{ injectedAtMs: number; healedAtMs: number }>, lastMs: number): number {
  const firstBusy = smoothed.findIndex((s) => s.tasksPerSec > 0);
  if (firstBusy < 0) return 0;
  const busy = smoothed.slice(firstBusy).filter((s) => s.tMs <= lastMs);
  const calm = busy.filter((s) => !faults.some((f) => s.tMs > f.injectedAtMs && s.tMs <= f.healedAtMs + settleMs));
  return median((calm.length > 0 ? calm : busy).map((s) => s.tasksPerSec)) ?? 0;
}

/**
 * Injection → smoothed throughput back at ≥ 90% of the baseline. Only a dip
 * that starts while the fault is on (or within settleMs after it healed) is
 * put down to it: 0 when there is none, null when throughput never came back
 * before `lastMs` (the end of the workload's busy period).
 */
export function throughputBackMs(smoothed: readonly ThroughputSample[], baseline: number, fault: { injectedAtMs: number; healedAtMs: number }, lastMs: number): number | null {
  if (baseline <= 0) return null;
  const after = smoothed.filter((s) => s.tMs > fault.injectedAtMs && s.tMs <= lastMs);
  const dip = after.findIndex((s) => s.tasksPerSec < 0.9 * baseline && s.tMs <= fault.healedAtMs + settleMs);
  if (dip < 0) return 0;
  const back = after.slice(dip).find((s) => s.tasksPerSec >= 0.9 * baseline);
  return back === undefined ? null : back.tMs - fault.injectedAtMs;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Faults grouped by type and intensity, with the median of each figure. */
export function groupFaults(faults: readonly FaultOutcome[]): FaultGroup[] {
  const groups = new Map<string, FaultOutcome[]>();
  for (const f of faults) {
    const key = `${f.type}/${f.intensity}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const med = (list: FaultOutcome[], pick: (f: FaultOutcome) => number | null): number | null =>
    median(list.map(pick).filter((v): v is number => v !== null));
  return [...groups.values()].map((list) => ({
    type: list[0]!.type,
    intensity: list[0]!.intensity,
    count: list.length,
    detectMs: med(list, (f) => f.detectMs),
    newLeaderMs: med(list, (f) => f.newLeaderMs),
    firstWriteMs: med(list, (f) => f.firstWriteMs),
    throughputBackMs: med(list, (f) => f.throughputBackMs),
  }));
}

/** Starts tried again inside attempts (spawn retries in place), summed over the run: work that wastedAttempts does not see. */
export function spawnRetriesInPlace(run: RunView | null): number {
  if (run === null) return 0;
  let retries = 0;
  for (const task of run.tasks) for (const a of task.attempts) retries += a.result?.spawnRetries ?? 0;
  return retries;
}

/**
 * Attempts that did not produce their task's final verdict, summed over the
 * run: every attempt of a task but the one whose passed/failed result is the
 * task's end state (all of them for a task that ended failed-infra or
 * cancelled, or that has not ended).
 */
export function wastedAttempts(run: RunView | null): number {
  if (run === null) return 0;
  let wasted = 0;
  for (const task of run.tasks) {
    const final = task.state === 'passed' || task.state === 'failed' ? task.attempts.findLast((a) => a.result?.outcome === task.state) : undefined;
    wasted += task.attempts.length - (final === undefined ? 0 : 1);
  }
  return wasted;
}
