/**
 * The deterministic simulation in CI: hundreds of seeded runs of real
 * RaftCores under crashes, partitions, lossy networks, membership changes,
 * transfers and compaction, each checked for Raft's safety properties, a
 * linearizable client history and liveness after healing; plus proof that
 * the checkers find planted bugs.
 */
import { describe, expect, it } from 'vitest';
import { plantOptions, type PlantedBug } from './planted-bugs.js';
import { simulate, type SimOptions, type SimResult } from './simulator.js';

function describeFailures(results: readonly SimResult[]): string {
  return results
    .filter((r) => r.violations.length > 0)
    .map((r) => `seed ${r.seed} (${r.nodes} nodes): ${r.violations.map((v) => `${v.kind} at step ${v.step}: ${v.detail}`).join('; ')}`)
    .join('\n');
}

function sweep(base: Omit<SimOptions, 'seed'>, firstSeed: number, count: number): SimResult[] {
  const results: SimResult[] = [];
  for (let seed = firstSeed; seed < firstSeed + count; seed++) results.push(simulate({ ...base, seed }));
  return results;
}

describe('simulation of a correct cluster', () => {
  // 500 seeds in all: 200 + 200 with the mixed fault profile, 50 + 50 with leader churn.
  it.each([
    { nodes: 3 as const, profile: 'mixed' as const, count: 200 },
    { nodes: 5 as const, profile: 'mixed' as const, count: 200 },
    { nodes: 3 as const, profile: 'churn' as const, count: 50 },
    { nodes: 5 as const, profile: 'churn' as const, count: 50 },
  ])('$count seeds, $nodes nodes, $profile faults: no violation', ({ nodes, profile, count }) => {
    const results = sweep({ nodes, profile, steps: 800 }, 1, count);
    expect(describeFailures(results)).toBe('');
    // The runs really exercised the cluster: clients got answers, faults happened.
    const total = (key: keyof SimResult['stats']): number => results.reduce((sum, r) => sum + r.stats[key], 0);
    // Under churn leaders die within steps of election, so few writes finish.
    expect(total('opsOk')).toBeGreaterThan(profile === 'mixed' ? count * 20 : count);
    expect(total('crashes')).toBeGreaterThan(profile === 'mixed' ? count : count * 3);
    expect(total('leaderTerms')).toBeGreaterThan(count * 2);
    if (profile === 'mixed') {
      expect(total('snapshots')).toBeGreaterThan(count);
      expect(total('membershipChanges')).toBeGreaterThan(count / 2);
      expect(total('refusedRestarts')).toBeGreaterThan(count / 10);
    }
  });

  // Lease reads, with pauses of a leader (see Simulation.pauseFault): 100 + 100 seeds.
  it.each([{ nodes: 3 as const }, { nodes: 5 as const }])('100 seeds, $nodes nodes, lease reads: no violation', ({ nodes }) => {
    const results = sweep({ nodes, profile: 'mixed', steps: 800, readMode: 'lease' }, 1, 100);
    expect(describeFailures(results)).toBe('');
    const reads = results.reduce((sum, r) => sum + r.stats.readsOk, 0);
    expect(reads).toBeGreaterThan(100 * 20);
  });

  // Leaders that ride out several silent election timeouts (the coordinator runs 3), lease reads included: 100 + 100 seeds.
  it.each([{ readMode: 'safe' as const }, { readMode: 'lease' as const }])('100 seeds, checkQuorumTimeouts 3, $readMode reads: no violation', ({ readMode }) => {
    const results = sweep({ nodes: 3, profile: 'mixed', steps: 800, readMode, checkQuorumTimeouts: 3 }, 1, 100);
    expect(describeFailures(results)).toBe('');
  });

  it('replays a seed exactly: the same trace twice', () => {
    const a = simulate({ seed: 4242, nodes: 5, steps: 600, trace: true });
    const b = simulate({ seed: 4242, nodes: 5, steps: 600, trace: true });
    expect(a.trace.length).toBeGreaterThan(1000);
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
  });
});

describe('planted bugs are found', () => {
  /** Each bug must be found within `seedsMax` seeds; the bound is stated, not tuned per run. */
  const cases: { bug: PlantedBug; nodes: 3 | 5; profile: 'mixed' | 'churn'; seedsMax: number; slowWrites?: boolean }[] = [
    { bug: 'vote-without-log-check', nodes: 3, profile: 'mixed', seedsMax: 20 },
    { bug: 'vote-without-log-check', nodes: 5, profile: 'mixed', seedsMax: 20 },
    { bug: 'read-without-read-index', nodes: 3, profile: 'mixed', seedsMax: 50 },
    { bug: 'read-without-read-index', nodes: 5, profile: 'mixed', seedsMax: 100 },
    // First found at seed 357 since vote messages carry the commit (130 before).
    { bug: 'commit-old-term', nodes: 3, profile: 'churn', seedsMax: 400 },
    // A leader resumed from a pause keeps a lease its own ticks say is young (first found at seed 145).
    // Writes in flight hold a leader's lease reads until its write ends, which hides the bug from
    // most seeds (first found at 518 with them), so this case runs the schedule without them.
    { bug: 'pause-without-catch-up', nodes: 5, profile: 'mixed', seedsMax: 300, slowWrites: false },
    // A leader's heartbeat sent during its write tells a commit that counts its own unwritten copy (first found at seed 116, 13 of seeds 1-1,000;
    // seed 84 before a survivor that refuses a behind pre-vote campaigned at its next tick, which moved the elections of every seed).
    { bug: 'heartbeat-commit-while-writing', nodes: 3, profile: 'churn', seedsMax: 200 },
  ];

  it.each(cases)('$bug ($nodes nodes, $profile) within $seedsMax seeds', ({ bug, nodes, profile, seedsMax, slowWrites }) => {
    let found: SimResult | null = null;
    for (let seed = 1; seed <= seedsMax && found === null; seed++) {
      const result = simulate({ seed, nodes, profile, steps: 1000, ...(slowWrites === undefined ? {} : { slowWrites }), ...plantOptions(bug) });
      if (result.violations.length > 0) found = result;
    }
    expect(found, `${bug} was not found in ${seedsMax} seeds`).not.toBeNull();
    const kinds = found!.violations.map((v) => v.kind);
    if (bug === 'read-without-read-index' || bug === 'pause-without-catch-up') expect(kinds).toContain('not-linearizable');
    else expect(kinds.some((k) => ['leader-completeness', 'state-machine-safety', 'log-matching', 'invariant-assertion', 'acked-write-lost', 'not-linearizable'].includes(k))).toBe(true);
  });
});
