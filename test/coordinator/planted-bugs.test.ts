import { describe, expect, it } from 'vitest';

import { emulatedFeatureLevel, LeaderReport, PlantedBugError, plantedBugs } from '../../src/coordinator/planted-bugs.js';

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

describe('TESTUDO_CHAOS_FEATURE_LEVEL', () => {
  it('keeps the build\'s level when unset, takes a lower one with --chaos-hooks, and refuses anything else', () => {
    expect(emulatedFeatureLevel(undefined, { chaosHooks: false, own: 1 })).toBe(1);
    expect(emulatedFeatureLevel('', { chaosHooks: true, own: 1 })).toBe(1);
    expect(emulatedFeatureLevel('0', { chaosHooks: true, own: 1 })).toBe(0);
    expect(() => emulatedFeatureLevel('0', { chaosHooks: false, own: 1 })).toThrow(/needs --chaos-hooks/);
    for (const value of ['2', '-1', '0.5', 'one', ' 0']) expect(() => emulatedFeatureLevel(value, { chaosHooks: true, own: 1 })).toThrow(/from 0 to this build's level, 1/);
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
