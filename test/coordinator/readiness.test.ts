import { describe, expect, it } from 'vitest';
import { lagReason } from '../../src/coordinator/admin.js';
import { readinessOf } from '../../src/coordinator/coordinator.js';
import type { RaftNode } from '../../src/raft/index.js';

type NodeStatus = ReturnType<RaftNode['status']>;

function status(overrides: Partial<NodeStatus>): NodeStatus {
  return {
    id: 'n2',
    term: 3,
    vote: 'n1',
    commit: 100,
    applied: 100,
    lastIndex: 100,
    firstIndex: 1,
    leader: 'n1',
    role: 'follower',
    leadTransferee: '',
    confState: { voters: ['n1', 'n2', 'n3'], learners: [] },
    leaderCommitHeard: 100,
    leaderReportsRegression: false,
    progress: new Map(),
    snapshotIndex: 0,
    appliedToMachine: 100,
    ...overrides,
  };
}

describe('readinessOf (/readyz)', () => {
  it('is ready with a leader and nothing to catch up', () => {
    expect(readinessOf(status({}), 'n2', 1000)).toEqual({ ok: true, reason: 'ok' });
  });

  it('is not ready without a leader', () => {
    expect(readinessOf(status({ leader: '' }), 'n2', 1000)).toEqual({ ok: false, reason: 'no leader known' });
  });

  it("is not ready while a follower trails the leader's commit index, as last heard, beyond the bound (and is at the bound)", () => {
    expect(readinessOf(status({ commit: 100, leaderCommitHeard: 1100 }), 'n2', 1000).ok).toBe(true);
    const behind = readinessOf(status({ commit: 100, leaderCommitHeard: 1101 }), 'n2', 1000);
    expect(behind.ok).toBe(false);
    expect(behind.reason).toMatch(/trails leader n1's commit index 1101 .* by 1001 entries, more than readyLagEntriesMax 1000/);
  });

  it('is not ready while the leader reports the follower cannot catch up, however small the lag', () => {
    const r = readinessOf(status({ leaderReportsRegression: true }), 'n2', 1000);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('went back');
    expect(r.reason).toContain('testudo cluster repair-member --id n2');
  });

  it("judges the leader on its own apply loop only", () => {
    expect(readinessOf(status({ role: 'leader', leader: 'n2', leaderCommitHeard: 5000, leaderReportsRegression: true }), 'n2', 1000).ok).toBe(true);
    expect(readinessOf(status({ role: 'leader', leader: 'n2', commit: 2000, appliedToMachine: 900 }), 'n2', 1000).ok).toBe(false);
  });
});

describe('lagReason (cluster status NOTE)', () => {
  const base = {
    id: 'n2', address: 'a', role: 'follower', term: 3, commitIndex: 100, appliedIndex: 100, lastIndex: 100, leaderId: 'n1', lag: 0, kind: 'voter',
    reachable: true, error: '', version: '', snapshotIndex: 0, firstIndex: 1, clusterId: 'c', ready: true, notReadyReason: '', lagReason: '', progress: [],
  };
  const progress = { id: 'n2', match: 100, next: 101, state: 'replicate', regressed: false, regressedMatch: 0, followerLastIndex: 0 };
  const leader = { ...base, id: 'n1', role: 'leader', lastIndex: 500, progress: [progress] };

  it('says nothing for a caught-up member', () => {
    expect(lagReason(base, { ...leader, lastIndex: 100 })).toBe('');
  });

  it('names a regressed member and its repair', () => {
    const note = lagReason({ ...base, lag: 400 }, { ...leader, progress: [{ ...progress, regressed: true, regressedMatch: 480, followerLastIndex: 100 }] });
    expect(note).toContain('acknowledged index 480, its log now ends at 100');
    expect(note).toContain('testudo cluster repair-member --id n2');
  });

  it('passes on why a member is not ready, and says when one is only catching up', () => {
    expect(lagReason({ ...base, ready: false, notReadyReason: 'no leader known' }, leader)).toBe('not ready: no leader known');
    expect(lagReason({ ...base, lag: 400 }, leader)).toBe('catching up: the leader has it at 100 of 500 (replicate)');
    expect(lagReason({ ...base, lag: 400 }, { ...leader, progress: [{ ...progress, state: 'snapshot' }] })).toBe('receiving a snapshot from the leader');
  });
});
