import { readFile } from 'node:fs/promises';
import { quantile, round } from './load.js';

/**
 * Where one failover round's time went, read from the coordinators' own
 * `raft-state` log lines (src/coordinator/coordinator.ts logs one per change
 * of role or leader, with the wall-clock time): from the fault to the first
 * survivor that gave up on the leader (noticed: a `leader changed` line
 * naming no leader, or a campaign), to the first campaign (a pre-candidate or
 * candidate), to the first leader elected, and, from the drill's own clock,
 * to the first write acknowledged. Each is null when no such line came after
 * the fault (a log not written yet, or the level above info).
 */
export interface RoundPhases {
  readonly noticedMs: number | null;
  readonly campaignMs: number | null;
  readonly electedMs: number | null;
  readonly committedMs: number | null;
}

export interface PhaseSummary {
  /** Rounds that have the phase. */
  readonly rounds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Per phase, across rounds: each measured from the fault. */
export interface PhasesReport {
  readonly noticed: PhaseSummary | null;
  readonly campaign: PhaseSummary | null;
  readonly elected: PhaseSummary | null;
  readonly committed: PhaseSummary | null;
  /** Rounds in which some node campaigned more than once, or more than one node campaigned for the same term. */
  readonly roundsWithSplitOrRetry: number;
}

interface StateLine {
  readonly timeMs: number;
  readonly role: string;
  readonly leader: string;
  readonly term: number;
}

/** Parses the `raft-state` lines of one coordinator's JSON log; other lines are skipped. */
export function parseStateLines(text: string): StateLine[] {
  const out: StateLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"raft-state"')) continue;
    let record: { event?: unknown; time?: unknown; role?: unknown; leader?: unknown; term?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      continue;
    }
    if (record.event !== 'raft-state') continue;
    const timeMs = typeof record.time === 'string' ? Date.parse(record.time) : typeof record.time === 'number' ? record.time : NaN;
    if (!Number.isFinite(timeMs)) continue;
    out.push({ timeMs, role: String(record.role ?? ''), leader: String(record.leader ?? ''), term: Number(record.term ?? 0) });
  }
  return out;
}

/**
 * One round's phases from the nodes' state lines that fall in
 * [faultWallMs, untilWallMs): every line, whatever its node, counts, the
 * earliest of each kind wins. The fault's victim logs nothing after it
 * (killed, paused or cut off before it could).
 */
export function roundPhases(lines: readonly StateLine[][], faultWallMs: number, untilWallMs: number, committedMs: number | null): RoundPhases & { splitOrRetry: boolean } {
  let noticed = Infinity;
  let campaign = Infinity;
  let elected = Infinity;
  let candidacies = 0;
  for (const node of lines) {
    for (const l of node) {
      if (l.timeMs < faultWallMs || l.timeMs >= untilWallMs) continue;
      const at = l.timeMs - faultWallMs;
      const campaigning = l.role === 'pre-candidate' || l.role === 'candidate';
      if (l.role === 'candidate') candidacies++;
      if (campaigning || (l.role === 'follower' && l.leader === '')) noticed = Math.min(noticed, at);
      if (campaigning) campaign = Math.min(campaign, at);
      if (l.role === 'leader') elected = Math.min(elected, at);
    }
  }
  const orNull = (n: number): number | null => (Number.isFinite(n) ? n : null);
  return { noticedMs: orNull(noticed), campaignMs: orNull(campaign), electedMs: orNull(elected), committedMs, splitOrRetry: candidacies > 1 };
}

/** Reads every log afresh (they are small at the drill's pace) and parses its state lines. */
export async function readStateLines(logPaths: readonly string[]): Promise<StateLine[][]> {
  return Promise.all(logPaths.map(async (p) => parseStateLines(await readFile(p, 'utf8').catch(() => ''))));
}

export function summarisePhases(rounds: readonly (RoundPhases & { splitOrRetry: boolean })[]): PhasesReport {
  const summary = (pick: (r: RoundPhases) => number | null): PhaseSummary | null => {
    const values = rounds.map(pick).filter((v): v is number => v !== null).sort((a, b) => a - b);
    if (values.length === 0) return null;
    return { rounds: values.length, p50Ms: round(quantile(values, 0.5)), p99Ms: round(quantile(values, 0.99)), maxMs: round(values[values.length - 1]!) };
  };
  return {
    noticed: summary((r) => r.noticedMs),
    campaign: summary((r) => r.campaignMs),
    elected: summary((r) => r.electedMs),
    committed: summary((r) => r.committedMs),
    roundsWithSplitOrRetry: rounds.filter((r) => r.splitOrRetry).length,
  };
}
