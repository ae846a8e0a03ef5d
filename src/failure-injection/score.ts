/**
 * The resilience score of one chaos pass: the weighted share of its
 * steady-state checks that held, from 0 (none) to 1 (all). Safety weighs
 * most (a lost task or a second leader is never acceptable), then getting
 * back to work (ready after healing, the success rate, throughput back after
 * each fault). docs/chaos.md lists the same table. Pure.
 */
import type { ChaosRunResult } from './results.js';
import type { ScenarioChecks } from './scenario/index.js';

/** What the score assumes where the scenario sets no steady-state hypothesis. */
export const scoreDefaults = { minSuccessRate: 0.95, recoverWithinMs: 30_000 } as const;

/** The weight of each check; the throughput weight is shared equally by the pass's faults. */
export const scoreWeights = {
  noLostTasks: 3,
  noDuplicateResults: 3,
  replicasAgree: 3,
  oneLeaderPerTerm: 3,
  readyAfterHealing: 2,
  successRate: 2,
  throughputBack: 2,
} as const;

export type ScoreCheck = keyof typeof scoreWeights;

export interface ResilienceScore {
  /** Weighted share of the checks met, in [0, 1]. */
  readonly score: number;
  /** Each check with its weight and the share of it met (throughputBack: the share of faults recovered in time). */
  readonly checks: ReadonlyArray<{ readonly check: ScoreCheck; readonly weight: number; readonly met: number }>;
}

export function resilienceScore(result: ChaosRunResult, checks: Pick<ScenarioChecks, 'minSuccessRate' | 'recoverWithinMs'>): ResilienceScore {
  const minSuccessRate = checks.minSuccessRate ?? scoreDefaults.minSuccessRate;
  const recoverWithinMs = checks.recoverWithinMs ?? scoreDefaults.recoverWithinMs;
  const c = result.checks;
  const inTime = result.faults.filter((f) => f.throughputBackMs !== null && f.throughputBackMs <= recoverWithinMs).length;
  const met: Record<ScoreCheck, number> = {
    noLostTasks: c.lostTasks === 0 ? 1 : 0,
    noDuplicateResults: c.duplicateResults === 0 ? 1 : 0,
    replicasAgree: c.divergentReplicas === 0 ? 1 : 0,
    oneLeaderPerTerm: c.splitBrainTerms === 0 ? 1 : 0,
    readyAfterHealing: c.ready ? 1 : 0,
    successRate: result.successRate >= minSuccessRate ? 1 : 0,
    throughputBack: result.faults.length === 0 ? 1 : inTime / result.faults.length,
  };
  const list = (Object.keys(scoreWeights) as ScoreCheck[]).map((check) => ({ check, weight: scoreWeights[check], met: met[check] }));
  const total = list.reduce((a, l) => a + l.weight, 0);
  const score = list.reduce((a, l) => a + l.weight * l.met, 0) / total;
  if (!(score >= 0 && score <= 1)) throw new Error(`resilience score ${score} is outside [0, 1]`);
  return { score, checks: list };
}
