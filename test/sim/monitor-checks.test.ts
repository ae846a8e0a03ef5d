/**
 * Every check of the safety monitor, shown firing: for each, a planted bug
 * (test/sim/planted-bugs.ts and `SimBug` in simulator.ts) that the check,
 * by its own kind, must catch within a stated number of seeds.
 */
import { describe, expect, it } from 'vitest';
import { plantOptions, type PlantedBug } from './planted-bugs.js';
import type { Violation } from './safety.js';
import { simulate, type SimResult } from './simulator.js';

interface Case {
  readonly kind: Violation['kind'];
  readonly bug: PlantedBug;
  readonly nodes: 3 | 5;
  readonly seedsMax: number;
}

/** The bound is stated, not tuned per run; each is a few times the first seed found. */
const cases: readonly Case[] = [
  { kind: 'two-leaders', bug: 'vote-twice-in-term', nodes: 5, seedsMax: 10 },
  { kind: 'log-matching', bug: 'corrupt-retained-entry', nodes: 5, seedsMax: 10 },
  { kind: 'state-machine-safety', bug: 'heartbeat-full-commit', nodes: 3, seedsMax: 20 },
  { kind: 'divergent-replicas', bug: 'restart-without-snapshot-state', nodes: 3, seedsMax: 10 },
  { kind: 'acked-write-lost', bug: 'ack-on-append', nodes: 5, seedsMax: 10 },
  { kind: 'liveness', bug: 'ignore-pre-vote', nodes: 3, seedsMax: 5 },
  { kind: 'message-storm', bug: 'resend-every-message', nodes: 3, seedsMax: 5 },
  { kind: 'invariant-assertion', bug: 'ready-twice', nodes: 3, seedsMax: 5 },
  { kind: 'members-not-caught-up', bug: 'retire-wrong-node', nodes: 3, seedsMax: 60 },
];

function firstCaught(c: Case): SimResult | null {
  for (let seed = 1; seed <= c.seedsMax; seed++) {
    const result = simulate({ seed, nodes: c.nodes, steps: 1000, ...plantOptions(c.bug) });
    if (result.violations.some((v) => v.kind === c.kind)) return result;
  }
  return null;
}

describe('each monitor check catches its planted bug', () => {
  it.each(cases)('$kind catches $bug within $seedsMax seeds ($nodes nodes)', (c) => {
    const found = firstCaught(c);
    expect(found, `${c.kind} did not fire on ${c.bug} in ${c.seedsMax} seeds`).not.toBeNull();
    const violation = found!.violations.find((v) => v.kind === c.kind)!;
    expect(violation.detail.length).toBeGreaterThan(0);
    // The same seed without the bug is clean: the check fired on the bug, not on noise.
    expect(simulate({ seed: found!.seed, nodes: c.nodes, steps: 1000 }).violations).toEqual([]);
  });
});
