import { workerRecord, type LiveTaskView, type RunSummary, type WorkerRecord, type WorkerView } from '../model/index.js';
import { decodeFaultRecord, FaultRecordDecodeError, type FaultRecord } from '../model/index.js';
import { dashboardFaultKeysReadMax, dashboardFaultsMax, dashboardQueueMax, dashboardRunsMax, dashboardWorkersMax } from './limits.js';
import type { DashboardSources, FaultRecordEntry, LocalRaftStatus, MemberRow, SessionFacts } from './sources.js';

/** The parts of the dashboard's state; a patch replaces whole sections. */
export const sectionNames = ['node', 'cluster', 'workers', 'sessions', 'runs', 'queue', 'events', 'faults', 'metrics'] as const;
export type SectionName = (typeof sectionNames)[number];

export interface NodeSection {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leaderId: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The leader's commit index as this node last heard it. */
  readonly leaderCommitHeard: number;
  /** Entries this node's applied state trails the leader's commit (as last heard); 0 on the leader. */
  readonly behindLeader: number;
  /** This node's clock when the section was built: the page measures ages against it. */
  readonly atMs: number;
}

export function nodeSection(nodeId: string, st: LocalRaftStatus, nowMs: number): NodeSection {
  const behind = st.role === 'leader' ? 0 : Math.max(0, st.leaderCommitHeard - st.appliedToMachine);
  return {
    id: nodeId,
    role: st.role,
    term: st.term,
    leaderId: st.leader,
    commitIndex: st.commit,
    appliedIndex: st.appliedToMachine,
    leaderCommitHeard: st.leaderCommitHeard,
    behindLeader: behind,
    atMs: nowMs,
  };
}

export interface LeaderChange {
  readonly atMs: number;
  readonly term: number;
  /** '' while no leader is known. */
  readonly leaderId: string;
}

export interface ClusterSection {
  readonly members: readonly (MemberRow & { readonly lastContactMs: number | null })[];
  /** When the members were last probed (0: never). */
  readonly probedAtMs: number;
  readonly leaderChanges: readonly LeaderChange[];
  /** Round trip from this node to each peer it talks Raft to (moving average, ms), as its transport measures it. */
  readonly rttMs: Readonly<Record<string, number>>;
}

/** One worker as the page shows it: the same record the Runs service's ListWorkers sends (src/model/worker-record.ts). */
export type WorkerRow = WorkerRecord;

export interface WorkersSection {
  readonly workers: readonly WorkerRow[];
  /** Workers left out by dashboardWorkersMax. */
  readonly omitted: number;
}

const workerStateOrder: Record<string, number> = { active: 0, draining: 1, lost: 2 };

export function workersSection(workers: readonly WorkerView[]): WorkersSection {
  const sorted = [...workers].sort((a, b) => (workerStateOrder[a.state] ?? 3) - (workerStateOrder[b.state] ?? 3) || a.workerId.localeCompare(b.workerId));
  const shown = sorted.slice(0, dashboardWorkersMax).map(workerRecord);
  return { workers: shown, omitted: sorted.length - shown.length };
}

export interface SessionsSection {
  /** Where the facts come from: this node (the leader), the leader (asked by a follower), or nowhere. */
  readonly from: 'self' | 'leader' | 'unavailable';
  readonly atMs: number;
  readonly workers: Readonly<Record<string, SessionFacts>>;
}

export interface RunsSection {
  readonly counts: unknown;
  readonly runs: readonly RunSummary[];
  readonly omitted: number;
}

export function runsSection(runs: readonly RunSummary[], counts: unknown): RunsSection {
  const sorted = [...runs].sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || b.submittedAtMs - a.submittedAtMs);
  const shown = sorted.slice(0, dashboardRunsMax);
  return { counts, runs: shown, omitted: sorted.length - shown.length };
}

export interface QueueRow {
  readonly taskId: string;
  readonly runId: string;
  readonly runName: string;
  readonly suite: string;
  readonly shard: number;
  readonly shardCount: number;
  readonly matrix: Readonly<Record<string, string>>;
  readonly priority: number;
  readonly state: string;
  readonly queuedAtMs: number;
  readonly attempts: number;
  /** The worker of the running attempt; '' while queued. */
  readonly workerId: string;
  readonly startedAtMs: number;
}

export interface QueueSection {
  readonly tasks: readonly QueueRow[];
  readonly omitted: number;
}

/** Queued and running tasks of the running runs, highest priority first, running before queued, then oldest; at most dashboardQueueMax. */
export function queueSection(sources: Pick<DashboardSources, 'liveTasks'>): QueueSection {
  const { tasks, total } = sources.liveTasks(dashboardQueueMax);
  return { tasks: tasks.map(queueRow), omitted: total - tasks.length };
}

function queueRow(task: LiveTaskView): QueueRow {
  return {
    taskId: task.taskId,
    runId: task.runId,
    runName: task.runName,
    suite: task.template.suite,
    shard: task.template.shard,
    shardCount: task.template.shardCount,
    matrix: task.template.matrix,
    priority: task.template.priority,
    state: task.state,
    queuedAtMs: task.queuedAtMs,
    attempts: task.attempts,
    workerId: task.workerId,
    startedAtMs: task.startedAtMs,
  };
}

/** A breaker transition, a worker reset or an alert, as the state machine derived it. */
export interface RecentEvent {
  readonly kind: string;
  readonly atMs: number;
  readonly workerId: string;
  readonly text: string;
}

/** One sample of the coordinator's own figures, taken once a second while a page watches. */
export interface MetricPoint {
  readonly atMs: number;
  readonly queued: number;
  readonly running: number;
  /** Tasks ended (passed, failed, failed-infra, cancelled) in the kept runs; its growth is the throughput. */
  readonly ended: number;
  readonly passed: number;
  readonly failed: number;
  readonly failedInfra: number;
  readonly commitIndex: number;
  /** Synced writes (fsync) since the previous sample, and their median and longest duration. */
  readonly fsyncs: number;
  readonly fsyncP50Ms: number;
  readonly fsyncMaxMs: number;
  /** Proposals of this node (the leader) committed since the previous sample, and the median and 99th percentile of their commit latency. */
  readonly commits: number;
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
}

export interface MetricsSection {
  /** Oldest first; a patch carries the ones taken since the previous patch as `metricsPoints`. */
  readonly points: readonly MetricPoint[];
}

export interface EventsSection {
  /** Newest last. */
  readonly recent: readonly RecentEvent[];
}

/** The chaos module's fault records (src/model/fault-record.ts), as this node has applied them. */
export interface FaultsSection {
  /** Oldest first; `healedAtMs` 0 while a fault is active. */
  readonly faults: readonly FaultRecord[];
  /** Older records read but not sent (beyond dashboardFaultsMax). */
  readonly omitted: number;
  /** More than dashboardFaultKeysReadMax keys are held: the newest were not read (the chaos module keeps far fewer). */
  readonly unread: boolean;
  /** Keys under the prefix that do not hold a record. */
  readonly malformed: number;
}

/** The newest fault record keys read (at most dashboardFaultsMax of at most dashboardFaultKeysReadMax read). */
export function newestFaultEntries(sources: Pick<DashboardSources, 'listFaultRecords'>): { entries: FaultRecordEntry[]; omitted: number; unread: boolean } {
  let entries: FaultRecordEntry[] = [];
  let omitted = 0;
  let startAfter = '';
  for (let read = 0; read < dashboardFaultKeysReadMax; ) {
    const page = sources.listFaultRecords(startAfter, Math.min(dashboardFaultsMax, dashboardFaultKeysReadMax - read));
    read += page.items.length;
    entries.push(...page.items);
    if (entries.length > dashboardFaultsMax) {
      omitted += entries.length - dashboardFaultsMax;
      entries = entries.slice(-dashboardFaultsMax);
    }
    const last = page.items[page.items.length - 1];
    if (!page.more || last === undefined) return { entries, omitted, unread: false };
    startAfter = last.key;
  }
  return { entries, omitted, unread: true };
}

export function faultsSection(read: { readonly entries: readonly FaultRecordEntry[]; readonly omitted: number; readonly unread: boolean }): FaultsSection {
  const faults: FaultRecord[] = [];
  let malformed = 0;
  for (const entry of read.entries) {
    try {
      faults.push(decodeFaultRecord(entry.key, Buffer.from(entry.value).toString('utf8')));
    } catch (error) {
      if (!(error instanceof FaultRecordDecodeError)) throw error;
      malformed++;
    }
  }
  return { faults, omitted: read.omitted, unread: read.unread, malformed };
}
