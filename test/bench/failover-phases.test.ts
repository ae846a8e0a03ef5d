import { describe, expect, it } from 'vitest';
import { parseStateLines, roundPhases, summarisePhases } from '../../src/bench/failover-phases.js';

/** A coordinator's raft-state line as src/coordinator/coordinator.ts logs it (pino, ISO time). */
function line(timeMs: number, role: string, leader: string, term: number): string {
  const msg = role === 'leader' ? 'became leader' : 'leader changed';
  return JSON.stringify({ level: 30, time: new Date(timeMs).toISOString(), event: 'raft-state', term, leader, role, msg });
}

const faultMs = Date.parse('2026-12-03T21:00:00.000Z');

describe('failover phases', () => {
  it('reads where a round went from the survivors\' raft-state lines', () => {
    const n2 = [
      line(faultMs - 500, 'follower', 'n1', 3), // before the fault: ignored
      '{"level":30,"time":"2026-12-03T21:00:00.010Z","msg":"unrelated"}',
      'not json',
      line(faultMs + 20, 'follower', '', 3),
      line(faultMs + 31, 'pre-candidate', '', 3),
      line(faultMs + 40, 'candidate', '', 4),
      line(faultMs + 52, 'leader', 'n2', 4),
    ].join('\n');
    const n3 = [line(faultMs + 24, 'follower', '', 3), line(faultMs + 55, 'follower', 'n2', 4)].join('\n');
    const phases = roundPhases([parseStateLines(n2), parseStateLines(n3)], faultMs, faultMs + 1000, 80);
    expect(phases).toEqual({ noticedMs: 20, campaignMs: 31, electedMs: 52, committedMs: 80, splitOrRetry: false });
  });

  it('flags a round with two candidacies (a split vote) and leaves out lines after the round', () => {
    const n2 = [line(faultMs + 200, 'candidate', '', 4), line(faultMs + 500, 'candidate', '', 5), line(faultMs + 520, 'leader', 'n2', 5)].join('\n');
    const n3 = [line(faultMs + 201, 'candidate', '', 4), line(faultMs + 5000, 'leader', 'n3', 9)].join('\n');
    const phases = roundPhases([parseStateLines(n2), parseStateLines(n3)], faultMs, faultMs + 600, 560);
    expect(phases).toMatchObject({ noticedMs: 200, campaignMs: 200, electedMs: 520, splitOrRetry: true });
    const summary = summarisePhases([phases, roundPhases([[]], faultMs, faultMs + 600, null)]);
    expect(summary.elected).toEqual({ rounds: 1, p50Ms: 520, p99Ms: 520, maxMs: 520 });
    expect(summary.committed?.rounds).toBe(1);
    expect(summary.roundsWithSplitOrRetry).toBe(1);
  });
});
