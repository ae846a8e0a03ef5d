import type { Logger } from 'pino';

import { proposalTimeoutMs, type ProposeOptions, type Proposer } from '../propose.js';
import type { OrchEvent, Orchestrator, ResultsOutcome } from '../orchestrator/state.js';

/** The leader's timings: heartbeats, TTLs and the ages at which housekeeping acts. */
export interface SessionSettings {
  /** How often workers send heartbeats. */
  readonly heartbeatIntervalMs: number;
  /** A worker not heard from for this long is declared lost. */
  readonly workerTtlMs: number;
  /** A new leader's grace period before it declares anyone lost. */
  readonly graceMs: number;
  /** Finished runs are pruned from the state this long after they finish. */
  readonly runRetentionMs: number;
  /** A queued task no registered worker can run ends failed-infra after this long. */
  readonly unschedulableTimeoutMs: number;
  /** A worker asked to reset that has not reported it done after this long is quarantined. */
  readonly resetTimeoutMs: number;
}

export const sessionSettingsDefault: SessionSettings = {
  heartbeatIntervalMs: 1000,
  workerTtlMs: 10_000,
  graceMs: 15_000,
  runRetentionMs: 7 * 24 * 3600 * 1000,
  unschedulableTimeoutMs: 10 * 60 * 1000,
  resetTimeoutMs: 10 * 60 * 1000,
};

/** What the leader's parts need from the coordinator that hosts them. */
export interface LeaderHost {
  readonly nodeId: string;
  /** This node's cluster: a worker asking for another is refused, and the welcome names it. */
  readonly clusterId: string;
  readonly proposer: Proposer;
  readonly orchestrator: Orchestrator;
  readonly log: Logger;
  readonly settings: SessionSettings;
  leaderHint(): { leaderId: string; leaderAddress: string };
  /** The clock that stamps commands and ages heartbeats (a fake one in tests). */
  nowMs(): number;
  onResults?(statuses: ResultsOutcome['statuses']): void;
  /** Alerts raised by applied commands (the leader sends them on). */
  onAlert?(event: Extract<OrchEvent, { kind: 'alert' }>): void;
  /** First attempts committed, with their tasks' time in the queue. */
  onDispatched?(queuedMs: readonly number[]): void;
  /** A result refused before proposing: it named another worker, or its attempt is another worker's. */
  onResultRefused?(reason: 'names-other-worker' | 'foreign-attempt'): void;
  /** A session refused: its worker id is bound to another session key. */
  onSessionRefused?(reason: 'identity'): void;
}

/** Options for a proposal of the leader's own: it waits at most `proposalTimeoutMs`. */
export function leaderProposal(host: Pick<LeaderHost, 'nowMs'>): ProposeOptions {
  return { deadlineMs: host.nowMs() + proposalTimeoutMs };
}
