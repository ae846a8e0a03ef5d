import { describe, expect, it } from 'vitest';

import { clusterFeatureLevel, entryFeatureLevel, featureLevel } from '../../src/coordinator/feature-level.js';

describe('clusterFeatureLevel', () => {
  const levels = (known: Record<string, number>) => (peer: string): number | null => known[peer] ?? null;

  it('is the lowest of this node\'s own level and every other member\'s, voters and learners alike', () => {
    const conf = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };
    expect(clusterFeatureLevel('n1', 2, conf, levels({ n2: 2, n3: 3, n4: 2 }))).toBe(2);
    expect(clusterFeatureLevel('n1', 2, conf, levels({ n2: 2, n3: 1, n4: 2 }))).toBe(1);
    expect(clusterFeatureLevel('n1', 2, conf, levels({ n2: 2, n3: 2, n4: 0 }))).toBe(0);
    expect(clusterFeatureLevel('n1', 1, conf, levels({ n2: 5, n3: 5, n4: 5 }))).toBe(1);
  });

  it('counts a member with no stream open as level 0, and a node alone as its own level', () => {
    expect(clusterFeatureLevel('n1', 1, { voters: ['n1', 'n2', 'n3'], learners: [] }, levels({ n2: 1 }))).toBe(0);
    expect(clusterFeatureLevel('n1', 1, { voters: ['n1'], learners: [] }, levels({}))).toBe(1);
  });

  it('this build writes its newer entries at a level no higher than its own', () => {
    expect(Object.values(entryFeatureLevel).every((level) => level >= 1 && level <= featureLevel)).toBe(true);
  });
});
