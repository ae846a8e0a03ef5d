import { describe, expect, it } from 'vitest';

import { LeaderReport, PlantedBugError, plantedBugs } from '../../src/coordinator/planted-bugs.js';

describe('TESTUDO_CHAOS_PLANTED_BUG', () => {
  const on = { chaosHooks: true, nodeId: 'n2' };

  it('plants nothing when unset or empty', () => {
    for (const value of [undefined, '']) {
      const planted = plantedBugs(value, on);
      expect([planted.active, planted.orchestrator]).toEqual([null, undefined]);
      expect(planted.leaderReport.name(3, 'n1')).toBe('n1');
    }
  });

  it('plants a state-machine bug on every node, and diverge only on the node it names', () => {
    expect(plantedBugs('count-late-result', on)).toMatchObject({ active: 'count-late-result', orchestrator: 'count-late-result' });
    expect(plantedBugs('drop-task', on)).toMatchObject({ active: 'drop-task', orchestrator: 'drop-task' });
    expect(plantedBugs('diverge:n2', on)).toMatchObject({ active: 'diverge:n2', orchestrator: 'diverge' });
    expect(plantedBugs('diverge:n1', on)).toMatchObject({ active: null, orchestrator: undefined });
    expect(plantedBugs('stale-leader-log', on)).toMatchObject({ active: 'stale-leader-log', orchestrator: undefined });
  });

  it('refuses an unknown bug, and any bug without --chaos-hooks', () => {
    for (const value of ['nope', 'diverge', 'diverge:', 'count-late-result ']) {
      expect(() => plantedBugs(value, on)).toThrow(PlantedBugError);
    }
    expect(() => plantedBugs('drop-task', { ...on, chaosHooks: false })).toThrow(/planted bugs need --chaos-hooks/);
  });
});

describe('LeaderReport', () => {
  it('names the real leader when honest', () => {
    const report = new LeaderReport(false);
    expect([report.name(2, 'n1'), report.name(3, ''), report.name(3, 'n2')]).toEqual(['n1', '', 'n2']);
  });

  it('with stale-leader-log names the previous leader in the first line of each new term', () => {
    const report = new LeaderReport(true);
    // The first term has no previous leader; term 3 opens with n1 (stale), then the real n2.
    expect([report.name(2, ''), report.name(2, 'n1'), report.name(3, ''), report.name(3, 'n2'), report.name(4, 'n3')]).toEqual(['', 'n1', 'n1', 'n2', 'n2']);
  });
});
