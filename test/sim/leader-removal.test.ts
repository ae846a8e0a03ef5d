/**
 * A leader that applies its own removal hands leadership over instead of
 * stepping down at once (src/raft/core/core.ts handOff). Before, with the storage-
 * rollback fault leaving one node refused for good, these seeds ended with
 * no leader: the removed leader, cut off as it applied its removal, stepped
 * down before the others heard that the removal committed (seed 7964: n1
 * removed at index 52, isolated from step 717; n3 and n4 still counted
 * n1..n4, n2 refused, and n1 holding the longest log rejected their votes
 * while never campaigning). Both fail with the old step-down.
 */
import { describe, expect, it } from 'vitest';
import { simulate } from './simulator.js';

describe('a leader removing itself', () => {
  for (const seed of [7964, 46690]) {
    it(`seed ${seed}: the remaining voters elect a leader and commit`, () => {
      const result = simulate({ seed, nodes: 3, steps: 1000 });
      expect(result.violations).toEqual([]);
      expect(result.stats.refusedRestarts).toBeGreaterThan(0);
    });
  }

  // A candidate that applied its own removal while campaigning used to win
  // and lead a configuration it was no voter of (the core asserted: "removed
  // leader has no transfer under way"); it now abandons its campaign.
  for (const [seed, nodes] of [[58785, 5], [60602, 3]] as const) {
    it(`seed ${seed}: a candidate removed while campaigning does not become leader`, () => {
      expect(simulate({ seed, nodes, steps: 1000 }).violations).toEqual([]);
    });
  }
});
