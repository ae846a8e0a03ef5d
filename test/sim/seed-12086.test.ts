/**
 * Seed 12086 (3 nodes, mixed faults, no storage rollbacks), as the core
 * stood before step 6: n5 is promoted (index 128, committed by n3 in term
 * 13), its removal is proposed (index 133) and lost when n1 wins term 14
 * without it. At step 981 n1 leads term 16 and has not yet applied the
 * promotion: its applied configuration lists n5 as a learner. The old
 * retire rule looked at voters only and stopped n5 for good; once n1
 * applied index 128, n5 was a voter that never came back, and the
 * end-of-run check reported liveness.
 *
 * The core's step-6 change (a leader flags a follower whose log went back)
 * moved this seed's trajectory, so the seed no longer walks into that state.
 * The rule is therefore tested directly on the state above, and the seed
 * stays as a regression run.
 */
import { describe, expect, it } from 'vitest';
import { removalIsFinal, simulate, type RetireView, type SimOptions } from './simulator.js';

const seed12086: SimOptions = { seed: 12086, nodes: 3, steps: 1000, profile: 'mixed', rollback: false };

/** n1's view at step 981: term 16 (the highest), commit of term 16, n5 a learner, its promotion (128) applied nowhere yet. */
const atStep981: RetireView = {
  leaderTerm: 16,
  highestTerm: 16,
  commitTerm: 16,
  appliedConf: { voters: ['n1', 'n2', 'n3'], learners: ['n5'] },
  unappliedConfChangeIds: ['n5'],
  votersApplied: 3,
};

describe('the retire rule (seed 12086: a removal lost in a leader change)', () => {
  it('keeps n5 while its applied configuration names it as a learner, or a configuration entry in the log names it', () => {
    expect(removalIsFinal('n5', atStep981)).toBe(false);
    expect(removalIsFinal('n5', { ...atStep981, appliedConf: { voters: ['n1', 'n2', 'n3'], learners: [] } })).toBe(false);
    // The old voters-only rule would have retired it here:
    expect(atStep981.appliedConf.voters.includes('n5')).toBe(false);
  });

  it('retires only a node no configuration names any more, on a leader of the highest term with a commit of its own term', () => {
    const gone: RetireView = { ...atStep981, appliedConf: { voters: ['n1', 'n2', 'n3'], learners: [] }, unappliedConfChangeIds: ['n4'] };
    expect(removalIsFinal('n5', gone)).toBe(true);
    expect(removalIsFinal('n5', { ...gone, highestTerm: 17 })).toBe(false);
    expect(removalIsFinal('n5', { ...gone, commitTerm: 15 })).toBe(false);
    // Seed 108694: only the leader has applied the removal; if it is lost the others still need n5.
    expect(removalIsFinal('n5', { ...gone, votersApplied: 1 })).toBe(false);
    expect(removalIsFinal('n5', { ...gone, votersApplied: 2 })).toBe(true);
  });

  it('the seed itself runs clean, with and without storage rollbacks in the fault mix', () => {
    expect(simulate(seed12086).violations).toEqual([]);
    expect(simulate({ ...seed12086, rollback: true }).violations).toEqual([]);
  });
});
