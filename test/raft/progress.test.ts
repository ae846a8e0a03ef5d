import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/raft/core/progress.js';

function progress(fields: Partial<Pick<Progress, 'match' | 'next' | 'state' | 'pendingSnapshot'>> = {}): Progress {
  const pr = new Progress(fields.next ?? 1, 4, 0);
  if (fields.match !== undefined) pr.match = fields.match;
  if (fields.state === 'replicate') pr.becomeReplicate();
  if (fields.state === 'snapshot') pr.becomeSnapshot(fields.pendingSnapshot ?? 0);
  if (fields.next !== undefined) pr.next = fields.next;
  return pr;
}

describe('Progress state transitions', () => {
  it('starts probing, unpaused', () => {
    const pr = new Progress(5, 4, 0);
    expect(pr.state).toBe('probe');
    expect(pr.match).toBe(0);
    expect(pr.next).toBe(5);
    expect(pr.isPaused()).toBe(false);
  });

  it('probe: one append at a time until an answer', () => {
    const pr = progress({ next: 5 });
    pr.sentEntries(2, 6, 100);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(5); // probing does not advance next optimistically
    expect(pr.maybeUpdate(6)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect(pr.match).toBe(6);
    expect(pr.next).toBe(7);
  });

  it('replicate: next = match + 1, appends advance next and fill the window', () => {
    const pr = progress({ match: 4, next: 9 });
    pr.becomeReplicate();
    expect(pr.state).toBe('replicate');
    expect(pr.next).toBe(5);
    for (let i = 0; i < 4; i++) pr.sentEntries(1, 5 + i, 10);
    expect(pr.next).toBe(9);
    expect(pr.isPaused()).toBe(true);
    pr.inflights.freeLE(6);
    expect(pr.isPaused()).toBe(false);
  });

  it('replicate: an empty append takes no window slot', () => {
    const pr = progress({ state: 'replicate', match: 4 });
    pr.sentEntries(0, 4, 0);
    expect(pr.inflights.size()).toBe(0);
    expect(pr.next).toBe(5);
  });

  it('snapshot: paused; becomeProbe resumes after the snapshot', () => {
    const pr = progress({ match: 2, next: 3 });
    pr.becomeSnapshot(10);
    expect(pr.state).toBe('snapshot');
    expect(pr.pendingSnapshot).toBe(10);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.state).toBe('probe');
    expect(pr.next).toBe(11);
    expect(pr.pendingSnapshot).toBe(0);
  });

  it('becomeProbe after a failed snapshot (pendingSnapshot 0) resumes after match', () => {
    const pr = progress({ match: 2, next: 3 });
    pr.becomeSnapshot(10);
    pr.pendingSnapshot = 0;
    pr.becomeProbe();
    expect(pr.next).toBe(3);
  });

  it('becomeProbe from replicate goes back to match + 1 and clears the window', () => {
    const pr = progress({ state: 'replicate', match: 4 });
    pr.sentEntries(3, 7, 10);
    pr.becomeProbe();
    expect(pr.next).toBe(5);
    expect(pr.inflights.size()).toBe(0);
  });

  it('maybeUpdate ignores stale acknowledgements but never lowers next', () => {
    const pr = progress({ match: 5, next: 8 });
    expect(pr.maybeUpdate(3)).toBe(false);
    expect(pr.match).toBe(5);
    expect(pr.next).toBe(8);
  });
});

describe('Progress.maybeDecrTo', () => {
  it('replicate: a rejection at or below match is stale', () => {
    const pr = progress({ state: 'replicate', match: 5, next: 9 });
    expect(pr.maybeDecrTo(5, 0)).toBe(false);
    expect(pr.maybeDecrTo(4, 0)).toBe(false);
    expect(pr.next).toBe(9);
  });

  it('replicate: a fresh rejection goes back to match + 1, ignoring the hint', () => {
    const pr = progress({ state: 'replicate', match: 5, next: 9 });
    expect(pr.maybeDecrTo(8, 2)).toBe(true);
    expect(pr.next).toBe(6);
  });

  it('probe: only the rejection of the last probe counts', () => {
    const pr = progress({ next: 10 });
    expect(pr.maybeDecrTo(8, 3)).toBe(false);
    expect(pr.next).toBe(10);
  });

  it('probe: jumps to just after the hint, unpausing', () => {
    const pr = progress({ next: 10 });
    pr.sentEntries(0, 9, 0);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
    expect(pr.isPaused()).toBe(false);
  });

  it('probe: never goes below match + 1, never above the rejected index', () => {
    const low = progress({ match: 5, next: 10 });
    expect(low.maybeDecrTo(9, 1)).toBe(true);
    expect(low.next).toBe(6);
    const high = progress({ next: 10 });
    expect(high.maybeDecrTo(9, 20)).toBe(true);
    expect(high.next).toBe(9);
  });
});
