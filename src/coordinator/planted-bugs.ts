/**
 * Bugs a chaos run can plant in a real coordinator, one per chaos check, to
 * prove that each check fails a run when its kind of failure happens
 * (docs/chaos.md, test/failure-injection/chaos/planted.test.ts). Set with
 * TESTUDO_CHAOS_PLANTED_BUG and honoured only with --chaos-hooks; never in
 * production.
 *
 * - `count-late-result` (duplicate results): the state machine counts a test
 *   verdict that arrives for a superseded attempt (lost, or cancelled: the
 *   losing half of a hedged pair, or an attempt of a cancelled run).
 * - `drop-task` (lost tasks): the state machine never queues the last task of
 *   a run, so it stays queued and the run never ends.
 * - `diverge:<nodeId>` (divergent replicas): that node alone records a passed
 *   task's finish 1 ms late, so its state differs from the other replicas'.
 * - `stale-leader-log` (split-brain terms): in each new term, the node's first
 *   `raft-state` log line names the leader of the term before (a stale read).
 *   Raft itself stays correct; the logs the check reads say two leaders.
 * - `skip-durable-check` (durable state): the node opens its Raft storage
 *   without comparing it with its durable record, so it starts on a truncated
 *   or rolled-back log (test/integration/durable-state.test.ts).
 *
 * Beside them, TESTUDO_CHAOS_FEATURE_LEVEL=<n> (also only with --chaos-hooks)
 * makes a node send and write at level n instead of its build's, standing in
 * for a build of that level in a mixed cluster.
 */
import type { OrchestratorPlantedBug } from './orchestrator/state.js';

export const plantedBugNames = ['count-late-result', 'drop-task', 'diverge:<nodeId>', 'stale-leader-log', 'skip-durable-check'] as const;

export class PlantedBugError extends Error {
  override readonly name = 'PlantedBugError';
  constructor(readonly value: string, reason: string) {
    super(`TESTUDO_CHAOS_PLANTED_BUG=${value}: ${reason} (one of ${plantedBugNames.join(', ')}, only with --chaos-hooks)`);
  }
}

export interface PlantedBugs {
  /** What this node plants, for the warning it logs; null for none. */
  readonly active: string | null;
  /** The orchestrator's option, when the bug is in the state machine. */
  readonly orchestrator: OrchestratorPlantedBug | undefined;
  /** The leader a `raft-state` log line names. */
  readonly leaderReport: LeaderReport;
  /** The storage's option, when the bug skips the durable-state check. */
  readonly storage: 'skip-durable-check' | undefined;
}

/** Reads TESTUDO_CHAOS_PLANTED_BUG for the node `nodeId`; throws PlantedBugError on a value it does not know. */
export function plantedBugs(value: string | undefined, options: { readonly chaosHooks: boolean; readonly nodeId: string }): PlantedBugs {
  const none: PlantedBugs = { active: null, orchestrator: undefined, leaderReport: new LeaderReport(false), storage: undefined };
  if (value === undefined || value === '') return none;
  if (!options.chaosHooks) throw new PlantedBugError(value, 'planted bugs need --chaos-hooks');
  if (value === 'count-late-result' || value === 'drop-task') return { ...none, active: value, orchestrator: value };
  if (value === 'skip-durable-check') return { ...none, active: value, storage: value };
  if (value === 'stale-leader-log') return { ...none, active: value, leaderReport: new LeaderReport(true) };
  if (value.startsWith('diverge:') && value.length > 'diverge:'.length) {
    return value.slice('diverge:'.length) === options.nodeId ? { ...none, active: value, orchestrator: 'diverge' } : none;
  }
  throw new PlantedBugError(value, 'not a planted bug');
}

/** Reads TESTUDO_CHAOS_FEATURE_LEVEL: the level to send and write at instead of `own`; throws on a bad value. */
export function emulatedFeatureLevel(value: string | undefined, options: { readonly chaosHooks: boolean; readonly own: number }): number {
  if (value === undefined || value === '') return options.own;
  const fail = (reason: string): never => {
    throw new Error(`TESTUDO_CHAOS_FEATURE_LEVEL=${value}: ${reason}`);
  };
  if (!options.chaosHooks) fail('an emulated feature level needs --chaos-hooks');
  if (!/^[0-9]+$/.test(value) || Number(value) > options.own) fail(`must be an integer from 0 to this build's level, ${options.own}`);
  return Number(value);
}

/**
 * The leader to name in a `raft-state` line: the real one, or with
 * `stale-leader-log` the previous term's leader in a new term's first line.
 */
export class LeaderReport {
  private term = -1;
  private leader = '';

  constructor(private readonly stale: boolean) {}

  name(term: number, leader: string): string {
    const previous = this.leader;
    const newTerm = term > this.term;
    this.term = Math.max(this.term, term);
    if (leader !== '') this.leader = leader;
    return this.stale && newTerm && previous !== '' ? previous : leader;
  }
}
