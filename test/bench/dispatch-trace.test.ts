import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatchPhasesFromTrace, indexTrace, readTraceDir, summarizeDispatchTrace, traceField, type TraceEvent } from '../../src/bench/dispatch-trace.js';

// Coordinators n1 (pid 100, the leader), n2 (200) and n3 (300), one worker
// (400); the run r1's submit at 1000 ms and its attempt's start at
// 1005.6 ms, with a heartbeat, the slower follower and a result of another
// run in between.
const pids = new Map([['n1', 100], ['n2', 200], ['n3', 300]]);
const e = (atMs: number, pid: number, event: string, detail: string): TraceEvent => ({ atMs, pid, event, detail });
const events: TraceEvent[] = [
  e(999.5, 100, 'raft.ready', 'entries=- commit=- messages=Heartbeat>n2,Heartbeat>n3'),
  e(1000.0, 100, 'leader.submit', 'run=r1'),
  e(1000.7, 100, 'raft.ready', 'entries=41-42 commit=- messages=App>n2,App>n3'),
  e(1001.0, 100, 'raft.send', 'to=n2 bytes=557'),
  e(1001.4, 200, 'raft.recv', 'App from=n1 index=40 entries=2 commit=40'),
  e(1001.5, 300, 'raft.recv', 'App from=n1 index=40 entries=2 commit=40'),
  e(1002.9, 100, 'raft.saved', 'ms=2.000 entries=2'),
  e(1003.6, 300, 'raft.saved', 'ms=2.000 entries=2'),
  e(1004.0, 100, 'raft.recv', 'AppResp from=n3 index=40 entries=0 commit=0'),
  e(1004.1, 200, 'raft.saved', 'ms=2.600 entries=2'),
  e(1004.2, 100, 'raft.recv', 'AppResp from=n3 index=42 entries=0 commit=0'),
  e(1004.3, 100, 'raft.ready', 'entries=- commit=42 messages=App>n2,App>n3'),
  e(1004.7, 100, 'leader.push', 'worker=w-1 orders=1'),
  e(1004.9, 200, 'raft.recv', 'AppResp from=n2 index=42 entries=0 commit=0'),
  e(1005.5, 400, 'worker.recv', 'orders=1'),
  e(1005.6, 400, 'worker.start', 'attempt=r1:t1:1'),
];
const dispatch = { runId: 'r1', attemptId: 'r1:t1:1' };

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('dispatch trace', () => {
  it('cuts a dispatch at the leader, the follower that answered first and the worker, on one clock', () => {
    const phases = dispatchPhasesFromTrace(indexTrace(events), pids, dispatch);
    expect(phases).not.toBeNull();
    expect(phases!.propose).toBeCloseTo(0.7, 6);
    // The acknowledgement of index 42, not the earlier one of 40.
    expect(phases!.replicate).toBeCloseTo(3.5, 6);
    // n3 answered first: its save, not n2's nor the leader's.
    expect(phases!.followerSave).toBe(2);
    expect(phases!.commit).toBeCloseTo(0.1, 6);
    expect(phases!.apply).toBeCloseTo(0.4, 6);
    expect(phases!.deliver).toBeCloseTo(0.8, 6);
    expect(phases!.start).toBeCloseTo(0.1, 6);
    expect(phases!.total).toBeCloseTo(5.6, 6);
    expect(phases!.propose + phases!.replicate + phases!.commit + phases!.apply + phases!.deliver + phases!.start).toBeCloseTo(phases!.total, 6);
  });

  it('finds the entry the order commits with when the run and its assignment went in two Readies', () => {
    const split = events.flatMap((x) =>
      x.detail.startsWith('entries=41-42') ? [{ ...x, detail: 'entries=41-41 commit=- messages=App>n2,App>n3' }, e(1001.2, 100, 'raft.ready', 'entries=42-42 commit=- messages=App>n2,App>n3')] : [x],
    );
    const phases = dispatchPhasesFromTrace(indexTrace(split), pids, dispatch);
    // The commit before the push names entry 42: its Ready is the one at 1001.2, not the run's at 1000.7.
    expect(phases!.propose).toBeCloseTo(1.2, 6);
    expect(phases!.replicate).toBeCloseTo(3.0, 6);
  });

  it('counts a dispatch with an event missing as unmatched, and gives the phases of the others', () => {
    const noPush = events.filter((x) => x.event !== 'leader.push');
    expect(dispatchPhasesFromTrace(indexTrace(noPush), pids, dispatch)).toBeNull();
    const later = events.map((x) => ({ ...x, atMs: x.atMs + 100, detail: x.detail.replace('r1', 'r2') }));
    const summary = summarizeDispatchTrace([...noPush, ...later], pids, [dispatch, { runId: 'r2', attemptId: 'r2:t1:1' }, { runId: 'r3', attemptId: 'r3:t1:1' }]);
    expect(summary.matched).toBe(1);
    expect(summary.unmatched).toBe(2);
    expect(summary.phasesMs.replicate.p50).toBe(3.5);
    expect(summary.phasesMs.followerSave.max).toBe(2);
    expect(summary.phasesMs.total.max).toBe(5.6);
  });

  it('takes the worker that started the attempt: a receive by another worker is not its delivery', () => {
    const other = events.map((x) => (x.event === 'worker.recv' ? { ...x, pid: 401 } : x));
    expect(dispatchPhasesFromTrace(indexTrace(other), pids, dispatch)).toBeNull();
  });

  it('reads every trace file of a directory in time order, skipping lines that do not parse', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'testudo-dispatch-trace-test-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'trace-100.log'), '1000.700 raft.ready entries=41-42 commit=- messages=App>n2\nnot a line\n1004.300 raft.ready entries=- commit=42 messages=\n');
    writeFileSync(path.join(dir, 'trace-400.log'), '1002.000 worker.recv orders=1\n');
    writeFileSync(path.join(dir, 'other.txt'), '1001.000 raft.recv ignored\n');
    const read = await readTraceDir(dir);
    expect(read.map((x) => [x.atMs, x.pid, x.event])).toEqual([
      [1000.7, 100, 'raft.ready'],
      [1002, 400, 'worker.recv'],
      [1004.3, 100, 'raft.ready'],
    ]);
    expect(traceField(read[0]!.detail, 'entries')).toBe('41-42');
    expect(traceField(read[2]!.detail, 'messages')).toBe('');
    expect(traceField(read[2]!.detail, 'absent')).toBeUndefined();
  });
});
