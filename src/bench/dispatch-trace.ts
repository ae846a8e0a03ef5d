import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quantile, round } from './workload.js';

/**
 * Where an idle dispatch's time goes, read from the event traces the
 * cluster's processes wrote with TESTUDO_TRACE_DIR (src/common/trace.ts;
 * `testudo bench schedule --trace-dir`). Each single-task run is found by
 * its run id (the leader's `leader.submit`) and its attempt id (the
 * worker's `worker.start`), and the time between is cut at events of the
 * leader, the follower that answered first and the worker
 * (docs/bench/dispatch-trace.md):
 *
 * - propose: the submit reaching the leader → the leader's Ready holding
 *   the entry the order commits with;
 * - replicate: → the first follower's acknowledgement of it on the leader
 *   (`followerSave`: that follower's storage write, inside it);
 * - commit: → the leader's Ready that commits it (which waits for the
 *   leader's own write too);
 * - apply: → the leader pushing the order to the worker's session;
 * - deliver: → the worker receiving it;
 * - start: → the worker starting it.
 *
 * All on the machine's monotonic clock, so the phases add up to the
 * dispatch (`total`).
 */

/** One line of a trace file. */
export interface TraceEvent {
  readonly atMs: number;
  readonly pid: number;
  readonly event: string;
  readonly detail: string;
}

/** An idle dispatch: its single-task run and the attempt that ran it. */
export interface TracedDispatch {
  readonly runId: string;
  readonly attemptId: string;
}

export const dispatchTracePhases = ['propose', 'replicate', 'followerSave', 'commit', 'apply', 'deliver', 'start', 'total'] as const;
export type DispatchTracePhase = (typeof dispatchTracePhases)[number];

export interface PhaseStats {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface DispatchTraceSummary {
  /** Dispatches whose every phase was found in the traces. */
  readonly matched: number;
  /** Dispatches with an event missing (a trace line lost, a message that went another way, a leader change). */
  readonly unmatched: number;
  /** Milliseconds per phase over the matched dispatches. */
  readonly phasesMs: Readonly<Record<DispatchTracePhase, PhaseStats>>;
}

/** Every event of every `trace-<pid>.log` in `dir`, in time order. Lines that do not parse are skipped. */
export async function readTraceDir(dir: string): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  for (const name of await readdir(dir)) {
    const m = /^trace-(\d+)\.log$/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      const first = line.indexOf(' ');
      const second = first === -1 ? -1 : line.indexOf(' ', first + 1);
      if (second === -1) continue;
      const atMs = Number(line.slice(0, first));
      if (!Number.isFinite(atMs)) continue;
      events.push({ atMs, pid, event: line.slice(first + 1, second), detail: line.slice(second + 1) });
    }
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** A `key=value` field of a trace line's detail, or undefined. */
export function traceField(detail: string, key: string): string | undefined {
  for (const part of detail.split(' ')) if (part.startsWith(`${key}=`)) return part.slice(key.length + 1);
  return undefined;
}

/** The events indexed for dispatchPhasesFromTrace: where each run's submit and each attempt's start are. */
export interface IndexedTrace {
  readonly events: readonly TraceEvent[];
  readonly submitAt: ReadonlyMap<string, number>;
  readonly startAt: ReadonlyMap<string, number>;
}

export function indexTrace(events: readonly TraceEvent[]): IndexedTrace {
  const submitAt = new Map<string, number>();
  const startAt = new Map<string, number>();
  for (const [i, e] of events.entries()) {
    if (e.event === 'leader.submit') {
      const run = traceField(e.detail, 'run');
      if (run !== undefined && !submitAt.has(run)) submitAt.set(run, i);
    } else if (e.event === 'worker.start') {
      const attempt = traceField(e.detail, 'attempt');
      if (attempt !== undefined && !startAt.has(attempt)) startAt.set(attempt, i);
    }
  }
  return { events, submitAt, startAt };
}

/**
 * One dispatch's phases in ms, or null when one of its events is not in
 * the trace. `coordinatorPids` maps each coordinator's node id to its pid
 * (an acknowledgement names its follower by node id).
 */
export function dispatchPhasesFromTrace(trace: IndexedTrace, coordinatorPids: ReadonlyMap<string, number>, d: TracedDispatch): Record<DispatchTracePhase, number> | null {
  const { events } = trace;
  const from = trace.submitAt.get(d.runId);
  const to = trace.startAt.get(d.attemptId);
  if (from === undefined || to === undefined || to < from) return null;
  const submit = events[from]!;
  const start = events[to]!;
  const leaderPid = submit.pid;
  const on = (pid: number, event: string) => (e: TraceEvent): boolean => e.pid === pid && e.event === event;
  const forward = (i: number, test: (e: TraceEvent) => boolean): number => {
    for (let k = i; k < to; k++) if (test(events[k]!)) return k;
    return -1;
  };
  const backward = (i: number, lowest: number, test: (e: TraceEvent) => boolean): number => {
    for (let k = i; k > lowest; k--) if (test(events[k]!)) return k;
    return -1;
  };
  // The order goes out when the entry that assigns it commits: the last commit before the first push.
  const push = forward(from + 1, on(leaderPid, 'leader.push'));
  if (push === -1) return null;
  const isReady = on(leaderPid, 'raft.ready');
  const commit = backward(push - 1, from, (e) => isReady(e) && traceField(e.detail, 'commit') !== '-');
  if (commit === -1) return null;
  const entry = Number(traceField(events[commit]!.detail, 'commit'));
  const ready = forward(from + 1, (e) => {
    if (!isReady(e)) return false;
    const [first, last] = (traceField(e.detail, 'entries') ?? '-').split('-').map(Number);
    return first !== undefined && last !== undefined && first <= entry && entry <= last;
  });
  if (ready === -1 || ready > commit) return null;
  const isAck = on(leaderPid, 'raft.recv');
  const ack = forward(ready + 1, (e) => isAck(e) && e.detail.startsWith('AppResp ') && Number(traceField(e.detail, 'index')) >= entry);
  if (ack === -1 || ack > commit) return null;
  const save = ackingFollowerSave(events, ready, ack, coordinatorPids);
  const recv = forward(push + 1, on(start.pid, 'worker.recv'));
  if (save === -1 || recv === -1) return null;
  const at = (i: number): number => events[i]!.atMs;
  return {
    propose: at(ready) - submit.atMs,
    replicate: at(ack) - at(ready),
    followerSave: Number(traceField(events[save]!.detail, 'ms')),
    commit: at(commit) - at(ack),
    apply: at(push) - at(commit),
    deliver: at(recv) - at(push),
    start: start.atMs - at(recv),
    total: start.atMs - submit.atMs,
  };
}

/**
 * The storage write of the follower whose acknowledgement is events[ack]:
 * its last `raft.saved` after events[ready] (the leader's Ready that sent
 * the entries) and before the acknowledgement arrived; -1 when there is none.
 */
export function ackingFollowerSave(events: readonly TraceEvent[], ready: number, ack: number, coordinatorPids: ReadonlyMap<string, number>): number {
  const followerPid = coordinatorPids.get(traceField(events[ack]!.detail, 'from') ?? '');
  if (followerPid === undefined) return -1;
  for (let k = ack - 1; k > ready; k--) {
    const e = events[k]!;
    if (e.pid === followerPid && e.event === 'raft.saved') return k;
  }
  return -1;
}

/** The phases of every dispatch found in the trace, as p50/p90/p99/max per phase. */
export function summarizeDispatchTrace(events: readonly TraceEvent[], coordinatorPids: ReadonlyMap<string, number>, dispatches: readonly TracedDispatch[]): DispatchTraceSummary {
  const trace = indexTrace(events);
  const found: Record<DispatchTracePhase, number>[] = [];
  for (const d of dispatches) {
    const phases = dispatchPhasesFromTrace(trace, coordinatorPids, d);
    if (phases !== null) found.push(phases);
  }
  return { matched: found.length, unmatched: dispatches.length - found.length, phasesMs: phaseStats(found, dispatchTracePhases) };
}

/** p50, p90, p99 and the maximum of each phase over `found` (ms, 2 decimals; NaN with none). */
export function phaseStats<P extends string>(found: readonly Readonly<Record<P, number>>[], phases: readonly P[]): Record<P, PhaseStats> {
  const stats = (phase: P): PhaseStats => {
    const values = found.map((p) => p[phase]);
    const max = values.length === 0 ? Number.NaN : Math.max(...values);
    return { p50: round(quantile(values, 0.5), 2), p90: round(quantile(values, 0.9), 2), p99: round(quantile(values, 0.99), 2), max: round(max, 2) };
  };
  return Object.fromEntries(phases.map((phase) => [phase, stats(phase)])) as Record<P, PhaseStats>;
}
