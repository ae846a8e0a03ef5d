import { describe, expect, it } from 'vitest';

import { profileBreakdown, type CpuProfile } from '../../src/bench/cpu-profile.js';

/** A profile of four functions, each sampled once, 1 ms apart from startTime 1000 µs. */
function profile(): CpuProfile {
  const frame = (functionName: string, url: string) => ({ functionName, url });
  return {
    startTime: 1000,
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4, 5] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('_batch', 'file:///x/node_modules/classic-level/index.js') },
      { id: 4, callFrame: frame('step', 'file:///x/dist/src/raft/core/core.js') },
      { id: 5, callFrame: frame('(garbage collector)', '') },
    ],
    samples: [2, 3, 4, 5],
    timeDeltas: [1000, 1000, 1000, 1000],
  };
}

describe('CPU profile breakdown', () => {
  it('sums self time by component, idle apart', () => {
    const b = profileBreakdown([profile()]);
    expect(b).toMatchObject({ busyMs: 3, idleMs: 1, byComponent: { 'LevelDB (JS side)': 1, 'raft core': 1, GC: 1 } });
    expect(b.topFunctions.map(([name]) => name)).toContain('step raft/core/core.js');
  });

  it('keeps only the samples inside the window', () => {
    // Samples fall at 2000, 3000, 4000 and 5000 µs.
    expect(profileBreakdown([profile()], 10, { fromUs: 2500, toUs: 4000 })).toMatchObject({ busyMs: 2, idleMs: 0, byComponent: { 'LevelDB (JS side)': 1, 'raft core': 1 } });
  });

  it('refuses a sample that names no node', () => {
    expect(() => profileBreakdown([{ ...profile(), samples: [9] }])).toThrow(/names no node 9/);
  });
});
