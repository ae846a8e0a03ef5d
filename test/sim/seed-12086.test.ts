/**
 * Seed 12086 (3 nodes, mixed faults, fault mix without storage rollbacks):
 * n5 is promoted (index 128, committed by n3 in term 13), its removal is
 * proposed (index 133) and lost when n1 wins term 14 without it. At step 981
 * n1 leads term 16 and has not yet applied the promotion: its applied
 * configuration lists n5 as a learner. The old retire rule looked at voters
 * only and stopped n5 for good; once n1 applied index 128, n5 was a voter
 * that never came back, and the end-of-run check reported liveness.
 */
import { describe, expect, it } from 'vitest';
import { plantOptions } from './planted-bugs.js';
import { simulate, type SimOptions } from './simulator.js';

const seed12086: SimOptions = { seed: 12086, nodes: 3, steps: 1000, profile: 'mixed', rollback: false };

describe('seed 12086: a removal lost in a leader change', () => {
  it('runs clean: n5 is not retired while its promotion is in the log', () => {
    const result = simulate({ ...seed12086, trace: true });
    expect(result.violations).toEqual([]);
    // The scenario really happened: the removal was proposed and n5 stayed.
    expect(result.trace).toContain('[840] propose promote n5');
    expect(result.trace).toContain('[875] propose remove n5');
    expect(result.trace.some((line) => line.includes('retire n5'))).toBe(false);
  });

  it('with the old voters-only retire rule, reports n5 as a member that never caught up', () => {
    const result = simulate({ ...seed12086, trace: true, ...plantOptions('retire-on-voters-only') });
    expect(result.trace).toContain('[981] retire n5');
    expect(result.violations.map((v) => v.kind)).toEqual(['members-not-caught-up']);
    expect(result.violations[0]!.detail).toMatch(/^members n5 \(retired\) never caught up/);
  });

  it('runs clean with storage rollbacks in the fault mix too', () => {
    expect(simulate({ ...seed12086, rollback: true }).violations).toEqual([]);
  });
});
