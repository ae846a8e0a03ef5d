import type { LiveTaskView, RunView, RunSummary, WorkerView } from '../model/index.js';

/** What a member of the cluster looks like to the dashboard (the `cluster status` record, trimmed). */
export interface MemberRow {
  readonly id: string;
  readonly address: string;
  readonly role: string;
  readonly kind: string;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly leaderId: string;
  /** Entries behind the leader's last index (0 for the leader and for unreachable members). */
  readonly lag: number;
  readonly reachable: boolean;
  readonly ready: boolean;
  /** Why it is not ready or not caught up; '' when healthy. */
  readonly reason: string;
  readonly error: string;
  readonly version: string;
}

/** This node's Raft view, as `RaftNode.status()` gives it. */
export interface LocalRaftStatus {
  readonly role: string;
  readonly term: number;
  readonly leader: string;
  readonly commit: number;
  readonly appliedToMachine: number;
  readonly leaderCommitHeard: number;
}

/** Leader-only facts about one worker: its session. */
export interface SessionFacts {
  readonly connected: boolean;
  /** When the leader last heard from it (leader's clock, ms since the epoch); null when unknown here. */
  readonly lastHeartbeatMs: number | null;
}

/** One key under faultRecordPrefix, as the key-value state holds it. */
export interface FaultRecordEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** Log index of the write that set it: a changed record has a new one. */
  readonly modIndex: number;
}

/** An orchestrator change as the dashboard needs it (see Orchestrator.onChange). */
export interface OrchestratorChange {
  readonly command: string;
  readonly runIds: ReadonlySet<string>;
  readonly events: readonly { readonly kind: string; readonly [key: string]: unknown }[];
}

/**
 * Everything the dashboard reads, given by the coordinator
 * (src/dashboard/coordinator-sources.ts builds it). Reads of replicated
 * state are this node's applied state; `clusterStatus` and `leaderSessions`
 * may ask other members.
 */
export interface DashboardSources {
  readonly nodeId: string;
  raftStatus(): LocalRaftStatus;
  /** Every member probed (like `testudo cluster status`); bounded by `probeTimeoutMs` per member. */
  clusterStatus(probeTimeoutMs: number): Promise<readonly MemberRow[]>;
  listWorkers(): readonly WorkerView[];
  listRuns(): readonly RunSummary[];
  getRunSummary(runId: string): RunSummary | undefined;
  getRun(runId: string): RunView | undefined;
  /** The queue: the first `limit` queued and running tasks of the running runs in the queue's order, and how many there are. */
  liveTasks(limit: number): { readonly tasks: readonly LiveTaskView[]; readonly total: number };
  stateCounts(): unknown;
  /**
   * Session facts by worker id: on the leader its own sessions; on a
   * follower asked of the leader (null when no leader answers in time).
   */
  leaderSessions(timeoutMs: number): Promise<{ readonly from: 'self' | 'leader'; readonly byWorker: ReadonlyMap<string, SessionFacts> } | null>;
  /**
   * The fault records the chaos module wrote (keys under faultRecordPrefix of
   * this node's applied key-value state), oldest first: at most `limit` keys
   * after `startAfter`, and whether more follow.
   */
  listFaultRecords(startAfter: string, limit: number): { readonly items: readonly FaultRecordEntry[]; readonly more: boolean };
  /** Subscribes to applied orchestrator commands; returns the unsubscribe function. */
  onChange(listener: (change: OrchestratorChange) => void): () => void;
  nowMs(): number;
}
