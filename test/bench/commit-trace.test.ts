import { describe, expect, it } from 'vitest';
import { summarizeCommitTrace, writePhases } from '../../src/bench/commit-trace.js';
import type { TraceEvent } from '../../src/bench/dispatch-trace.js';

// The load process (pid 50) writes k0 then k1 after its warm-up; the leader
// n1 (100), followers n2 (200) and n3 (300). Times in ms.
const pids = new Map([['n1', 100], ['n2', 200], ['n3', 300]]);
const e = (atMs: number, pid: number, event: string, detail: string): TraceEvent => ({ atMs, pid, event, detail });
const write = (t: number, key: string, index: number): TraceEvent[] => [
  e(t, 50, 'client.call', `key=${key}`),
  e(t + 0.1, 50, 'rpc.sent', 'method=/testudo.Kv/Put'),
  e(t + 0.6, 100, 'kv.put', `key=${key}`),
  e(t + 0.7, 100, 'raft.ready', `entries=${index}-${index} commit=- messages=App>n2,App>n3`),
  e(t + 1.2, 200, 'raft.recv', `App from=n1 index=${index - 1} entries=1 commit=${index - 1}`),
  e(t + 2.3, 200, 'raft.saved', 'ms=1.000 entries=1'),
  e(t + 2.5, 300, 'raft.saved', 'ms=1.500 entries=1'),
  e(t + 2.7, 100, 'raft.recv', `AppResp from=n2 index=${index} entries=0 commit=0`),
  e(t + 2.75, 100, 'raft.ready', `entries=- commit=${index} messages=`),
  e(t + 2.8, 100, 'kv.reply', `key=${key}`),
  e(t + 2.9, 100, 'raft.recv', `AppResp from=n3 index=${index} entries=0 commit=0`),
  e(t + 3.5, 50, 'rpc.message', 'method=/testudo.Kv/Put'),
  e(t + 3.55, 50, 'rpc.status', 'method=/testudo.Kv/Put code=0'),
  e(t + 3.7, 50, 'client.done', `key=${key}`),
];
const warm = write(900, 'warm0', 10);
const events: TraceEvent[] = [...warm, e(990, 50, 'client.timed', ''), ...write(1000, 'k0', 11), ...write(1010, 'k1', 12)];

describe('write trace', () => {
  it('cuts a write at the client, the leader and the follower that answered first', () => {
    const phases = writePhases(events, events.findIndex((x) => x.detail === 'key=k0' && x.event === 'client.call'), pids);
    expect(phases).not.toBeNull();
    expect(phases!.request).toBeCloseTo(0.6, 6);
    expect(phases!.clientSend).toBeCloseTo(0.1, 6);
    expect(phases!.propose).toBeCloseTo(0.1, 6);
    expect(phases!.replicate).toBeCloseTo(2.0, 6);
    // n2 acknowledged first: its 1.000 ms save, not n3's, the latest before that acknowledgement.
    expect(phases!.followerSave).toBe(1);
    expect(phases!.commit).toBeCloseTo(0.05, 6);
    expect(phases!.apply).toBeCloseTo(0.05, 6);
    expect(phases!.response).toBeCloseTo(0.9, 6);
    expect(phases!.trailers).toBeCloseTo(0.05, 6);
    expect(phases!.clientReceive).toBeCloseTo(0.15, 6);
    expect(phases!.total).toBeCloseTo(3.7, 6);
  });

  it('counts the timed writes only, and a write with an event missing as unmatched', () => {
    const summary = summarizeCommitTrace(events, pids);
    expect(summary).toMatchObject({ matched: 2, unmatched: 0 });
    expect(summary.phasesMs.total.max).toBe(3.7);
    const noReply = events.filter((x) => !(x.event === 'kv.reply' && x.detail === 'key=k1'));
    expect(summarizeCommitTrace(noReply, pids)).toMatchObject({ matched: 1, unmatched: 1 });
    expect(summarizeCommitTrace(warm, pids)).toMatchObject({ matched: 0, unmatched: 0 });
  });

  it('leaves a call unanswered before the next one unmatched, even when the next writes the same key', () => {
    // Keys repeat once the load has gone round its key space.
    const again = [...warm, e(990, 50, 'client.timed', ''), ...write(1000, 'k0', 11), ...write(1010, 'k0', 12)];
    const lost = again.filter((x) => !(x.event === 'client.done' && x.atMs < 1005));
    expect(summarizeCommitTrace(lost, pids)).toMatchObject({ matched: 1, unmatched: 1 });
  });
});
