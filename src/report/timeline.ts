// The run's timeline: every attempt as a bar on the lane of the worker that
// ran it (a Gantt chart). Pure: a RunView in, lanes of bars out.
import type { AttemptState, RunView } from '../model/types.js';
import { suiteLabel } from './merge.js';

/** Bars drawn at most; the rest are counted in `omitted` (a run may have 20,000 tasks). */
export const timelineBarsMax = 2000;

export interface TimelineBar {
  readonly attemptId: string;
  readonly taskId: string;
  readonly suite: string;
  readonly shard: number;
  readonly shardCount: number;
  /** The attempt's number within its task (1-based). */
  readonly number: number;
  readonly state: AttemptState;
  /** Milliseconds from the timeline's origin. */
  readonly startMs: number;
  readonly endMs: number;
  /** Row within the worker's lane: attempts that overlap (several slots) go on separate rows. */
  readonly row: number;
}

export interface TimelineLane {
  readonly workerId: string;
  readonly rows: number;
  readonly bars: readonly TimelineBar[];
}

export interface Timeline {
  /** Epoch milliseconds of time 0: the run's submission (or its first attempt, if earlier). */
  readonly originMs: number;
  readonly spanMs: number;
  /** Sorted by worker id. */
  readonly lanes: readonly TimelineLane[];
  readonly omitted: number;
}

interface RawBar {
  readonly attemptId: string;
  readonly taskId: string;
  readonly suite: string;
  readonly shard: number;
  readonly shardCount: number;
  readonly number: number;
  readonly state: AttemptState;
  readonly workerId: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * An attempt runs from its start on the worker to its end there (the worker's
 * clock) when it reported; an attempt without a report (lost, cancelled,
 * running) from its assignment (the leader's clock) to the next attempt's
 * assignment, the task's end, or the run's end.
 */
function rawBars(run: RunView): RawBar[] {
  const bars: RawBar[] = [];
  const runEndMs = run.finishedAtMs > 0 ? run.finishedAtMs : 0;
  for (const task of run.tasks) {
    const attempts = [...task.attempts].sort((a, b) => a.number - b.number);
    attempts.forEach((a, i) => {
      const next = attempts[i + 1];
      const startMs = a.result?.startedAtMs ?? a.assignedAtMs;
      const fallbackEndMs = next?.assignedAtMs ?? (task.finishedAtMs > 0 ? task.finishedAtMs : runEndMs);
      const endMs = Math.max(startMs, a.result?.finishedAtMs ?? fallbackEndMs);
      bars.push({
        attemptId: a.attemptId,
        taskId: task.taskId,
        suite: suiteLabel(task.template),
        shard: task.template.shard,
        shardCount: task.template.shardCount,
        number: a.number,
        state: a.state,
        workerId: a.workerId || a.result?.workerId || '',
        startMs,
        endMs,
      });
    });
  }
  return bars;
}

/** Greedy rows: each bar (by start) goes on the first row that is free by then. */
function packRows(bars: readonly RawBar[], originMs: number): { bars: TimelineBar[]; rows: number } {
  const rowEnds: number[] = [];
  const out: TimelineBar[] = [];
  for (const bar of [...bars].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs)) {
    let row = rowEnds.findIndex((end) => end <= bar.startMs);
    if (row < 0) {
      row = rowEnds.length;
      rowEnds.push(0);
    }
    rowEnds[row] = bar.endMs;
    const { workerId: _workerId, ...rest } = bar;
    out.push({ ...rest, startMs: bar.startMs - originMs, endMs: bar.endMs - originMs, row });
  }
  return { bars: out, rows: Math.max(1, rowEnds.length) };
}

export function buildTimeline(run: RunView): Timeline {
  const all = rawBars(run).sort((a, b) => a.startMs - b.startMs);
  const kept = all.slice(0, timelineBarsMax);
  const starts = kept.map((b) => b.startMs).filter((ms) => ms > 0);
  const originMs = Math.min(run.submittedAtMs > 0 ? run.submittedAtMs : Infinity, ...starts);
  const origin = Number.isFinite(originMs) ? originMs : 0;
  const endMs = Math.max(origin, run.finishedAtMs, ...kept.map((b) => b.endMs));
  const byWorker = new Map<string, RawBar[]>();
  for (const bar of kept) {
    const list = byWorker.get(bar.workerId) ?? [];
    list.push(bar);
    byWorker.set(bar.workerId, list);
  }
  const lanes = [...byWorker]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([workerId, bars]) => ({ workerId, ...packRows(bars, origin) }));
  return { originMs: origin, spanMs: endMs - origin, lanes, omitted: all.length - kept.length };
}
