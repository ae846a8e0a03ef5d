import { lagReason, localMemberStatus, type AdminHost } from '../coordinator/admin.js';
import type { Orchestrator } from '../coordinator/orchestrator/state.js';
import { faultRecordPrefix } from '../model/index.js';
import type { DashboardSources, MemberRow, SessionFacts } from './sources.js';

type MemberStatus = ReturnType<typeof localMemberStatus>;

/** The leader-only session facts a coordinator has (its Leader). */
export interface SessionsView {
  connected(workerId: string): boolean;
  lastHeartbeatMs(workerId: string): number | undefined;
}

/**
 * The dashboard's sources on a running coordinator: its Raft node, its
 * applied orchestrator state, its member probes (the same as `testudo
 * cluster status`), and the leader's worker sessions — its own when it
 * leads, else asked of the leader over the Runs service.
 */
export function coordinatorSources(host: AdminHost, orchestrator: Orchestrator, sessions: SessionsView): DashboardSources {
  return {
    nodeId: host.nodeId,
    raftStatus: () => host.node.status(),
    clusterStatus: (probeTimeoutMs) => probeMembers(host, probeTimeoutMs),
    listWorkers: () => orchestrator.listWorkers(),
    listRuns: () => orchestrator.listRuns(),
    getRunSummary: (runId) => orchestrator.runSummary(runId),
    getRun: (runId) => orchestrator.getRun(runId),
    liveTasks: (limit) => orchestrator.liveTasks(limit),
    stateCounts: () => orchestrator.stateCounts(),
    leaderSessions: (timeoutMs) => leaderSessions(host, orchestrator, sessions, timeoutMs),
    listFaultRecords: (startAfter, limit) => host.machine.list({ prefix: faultRecordPrefix, startAfter, limit }),
    onChange: (listener) => orchestrator.onChange((runIds, command, events) => listener({ runIds, command, events })),
    nowMs: () => Date.now(),
  };
}

/** Every member's status, as `testudo cluster status` computes it (src/coordinator/admin.ts). */
async function probeMembers(host: AdminHost, probeTimeoutMs: number): Promise<MemberRow[]> {
  const members = host.machine.members();
  const statuses = await Promise.all(
    members.map(async (m): Promise<MemberStatus | { id: string; address: string; kind: string; error: string }> => {
      if (m.id === host.nodeId) return localMemberStatus(host);
      try {
        return await host.peers.forward(m.address, 'Cluster', 'MemberStatus', {}, probeTimeoutMs);
      } catch (error) {
        return { id: m.id, address: m.address, kind: m.kind, error: (error as Error).message };
      }
    }),
  );
  const reachable = statuses.filter((s): s is MemberStatus => 'role' in s);
  const leader = reachable.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term)[0];
  return statuses.map((s): MemberRow => {
    const kind = members.find((m) => m.id === s.id)?.kind ?? '';
    if (!('role' in s)) {
      return { id: s.id, address: s.address, role: 'unreachable', kind, term: 0, commitIndex: 0, appliedIndex: 0, lastIndex: 0, leaderId: '', lag: 0, reachable: false, ready: false, reason: '', error: s.error, version: '' };
    }
    const lag = leader === undefined ? 0 : Math.max(0, leader.lastIndex - s.lastIndex);
    return {
      id: s.id,
      address: s.address,
      role: s.role,
      kind,
      term: s.term,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      lastIndex: s.lastIndex,
      leaderId: s.leaderId,
      lag,
      reachable: true,
      ready: s.ready,
      reason: lagReason({ ...s, lag }, leader),
      error: '',
      version: s.version,
    };
  });
}

async function leaderSessions(
  host: AdminHost,
  orchestrator: Orchestrator,
  sessions: SessionsView,
  timeoutMs: number,
): Promise<{ from: 'self' | 'leader'; byWorker: Map<string, SessionFacts> } | null> {
  const byWorker = new Map<string, SessionFacts>();
  if (host.node.isLeader) {
    for (const w of orchestrator.listWorkers()) byWorker.set(w.workerId, { connected: sessions.connected(w.workerId), lastHeartbeatMs: sessions.lastHeartbeatMs(w.workerId) ?? null });
    return { from: 'self', byWorker };
  }
  const { leaderAddress } = host.leaderHint();
  if (leaderAddress === '') return null;
  const reply = await host.peers.forward(leaderAddress, 'Runs', 'ListWorkers', {}, timeoutMs);
  // The leader sends ages, not times: placed on this node's clock, they need no agreement between the two clocks.
  const nowMs = host.nowMs();
  for (const w of reply.workers) byWorker.set(w.workerId, { connected: w.connected, lastHeartbeatMs: w.lastHeartbeatAgeMs < 0 ? null : nowMs - w.lastHeartbeatAgeMs });
  return { from: 'leader', byWorker };
}
