import type { FollowerProgress } from '../model/index.js';
import * as grpc from '@grpc/grpc-js';
import { ConfChangeError, ConfChangeType, type ConfChange } from '../raft/index.js';
import { encodeMemberContext, InvalidArgumentError } from './codec.js';
import { ServiceError } from './grpc-errors.js';
import { principalOf, type Principal } from '../security/auth.js';
import { forwardOrRelay, onLeader, remainingMs, unary, type ServiceHost } from './services.js';
import { saveSnapshotHandler } from './snapshot-service.js';

/** Node ids are short, printable and safe in file names and metric labels. */
const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const addressPattern = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;

/** How long an admin call may take by default (adding a member waits for it to catch up). */
export const adminTimeoutMs = 60_000;
/** How long a member-status probe of one peer may take. */
export const memberProbeTimeoutMs = 1_000;
const transferTimeoutMs = 5_000;
const catchUpPollMs = 25;

export interface AdminHost extends ServiceHost {
  readonly advertise: string;
  readonly version: string;
  readonly clusterId: string;
  /** This node's /readyz verdict. */
  readiness(): { ok: boolean; reason: string };
}

/** How long a repair waits for the member to catch up before answering (it goes on catching up after). */
const repairCatchUpTimeoutMs = 10_000;


interface MemberStatus {
  id: string;
  address: string;
  role: string;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  leaderId: string;
  lag: number;
  kind: string;
  reachable: boolean;
  error: string;
  version: string;
  snapshotIndex: number;
  firstIndex: number;
  clusterId: string;
  ready: boolean;
  notReadyReason: string;
  lagReason: string;
  progress: FollowerProgress[];
}

export function localMemberStatus(host: AdminHost): MemberStatus {
  const st = host.node.status();
  const isLearner = st.confState.learners.includes(host.nodeId);
  const readiness = host.readiness();
  const progress = [...st.progress].map(([id, pr]): FollowerProgress => ({
    id,
    match: pr.match,
    next: pr.next,
    state: pr.state,
    regressed: pr.regression !== null,
    regressedMatch: pr.regression?.match ?? 0,
    followerLastIndex: pr.regression?.followerLastIndex ?? 0,
  }));
  return {
    id: host.nodeId,
    address: host.advertise,
    role: st.role,
    term: st.term,
    commitIndex: st.commit,
    appliedIndex: st.appliedToMachine,
    lastIndex: st.lastIndex,
    leaderId: st.leader,
    lag: 0,
    kind: isLearner ? 'learner' : st.confState.voters.includes(host.nodeId) ? 'voter' : 'none',
    reachable: true,
    error: '',
    version: host.version,
    snapshotIndex: st.snapshotIndex,
    firstIndex: st.firstIndex,
    clusterId: host.clusterId,
    ready: readiness.ok,
    notReadyReason: readiness.ok ? '' : readiness.reason,
    lagReason: '',
    progress,
  };
}

export function clusterHandlers(host: AdminHost): grpc.UntypedServiceImplementation {
  return {
    MemberStatus: unary<unknown, MemberStatus>(host, 'MemberStatus', async () => localMemberStatus(host)),
    Status: unary<unknown, unknown>(host, 'Status', async (_req, call) =>
      // Leave time to answer: an unreachable member must not push the whole call past the caller's deadline.
      clusterStatus(host, Math.max(50, Math.min(memberProbeTimeoutMs, Math.floor(remainingMs(call, adminTimeoutMs) * 0.6))), principalOf(call.metadata)),
    ),
    TransferLeader: unary<{ to: string }, unknown>(host, 'TransferLeader', async (req, call) => {
      requireMember(host, req.to, 'voter');
      return onLeader(host, call, 'Cluster', 'TransferLeader', async () => {
        await host.node.transferLeadership(req.to, Math.min(transferTimeoutMs, remainingMs(call, adminTimeoutMs)));
        return { leaderId: req.to, term: host.node.status().term };
      });
    }),
    AddMember: unary<{ id: string; address: string; learnerOnly: boolean }, unknown>(host, 'AddMember', async (req, call) => {
      if (!nodeIdPattern.test(req.id)) throw new InvalidArgumentError('id', `"${req.id}" is not a node id (letters, digits, _.-; at most 63)`);
      if (!addressPattern.test(req.address)) throw new InvalidArgumentError('address', `"${req.address}" is not host:port`);
      return onLeader(host, call, 'Cluster', 'AddMember', async () => addMember(host, req, remainingMs(call, adminTimeoutMs)));
    }),
    RemoveMember: unary<{ id: string }, unknown>(host, 'RemoveMember', async (req, call) => {
      requireMember(host, req.id, 'any');
      return onLeader(host, call, 'Cluster', 'RemoveMember', async () => removeMember(host, req.id, remainingMs(call, adminTimeoutMs), principalOf(call.metadata)));
    }),
    RepairMember: unary<{ id: string }, unknown>(host, 'RepairMember', async (req, call) => {
      requireMember(host, req.id, 'any');
      return onLeader(host, call, 'Cluster', 'RepairMember', async () => repairMember(host, req.id, Math.min(repairCatchUpTimeoutMs, remainingMs(call, adminTimeoutMs))));
    }),
    SaveSnapshot: saveSnapshotHandler(host),
  };
}

async function clusterStatus(host: AdminHost, probeTimeoutMs: number, caller: Principal | null): Promise<unknown> {
  const members = host.machine.members();
  const statuses = await Promise.all(members.map((m) => memberStatusOf(host, m, probeTimeoutMs, caller)));
  const leader = statuses.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term)[0];
  for (const s of statuses) {
    s.kind = members.find((m) => m.id === s.id)?.kind ?? s.kind;
    if (leader !== undefined && s.reachable) s.lag = Math.max(0, leader.lastIndex - s.lastIndex);
    s.lagReason = lagReason(s, leader);
  }
  const local = host.node.status();
  return { members: statuses, leaderId: local.leader, term: local.term, servedBy: host.nodeId };
}

/** Member `m`'s own status: this node's, or asked of it (unreachable, with the error, when it does not answer within `probeTimeoutMs`). */
async function memberStatusOf(host: AdminHost, m: { id: string; address: string; kind: string }, probeTimeoutMs: number, caller: Principal | null): Promise<MemberStatus> {
  if (m.id === host.nodeId) return localMemberStatus(host);
  try {
    return await host.peers.forward(m.address, 'Cluster', 'MemberStatus', {}, probeTimeoutMs, caller);
  } catch (error) {
    return { ...unreachable(m.id, m.address, m.kind), error: (error as Error).message };
  }
}

/** Why member `s` has not caught up with `leader`, or '' when it has (what `cluster status` shows). */
export function lagReason(s: MemberStatus, leader: MemberStatus | undefined): string {
  if (!s.reachable || s.role === 'leader') return '';
  const pr = leader?.progress.find((p) => p.id === s.id);
  if (pr?.regressed === true) {
    return `its log went back: it had acknowledged index ${pr.regressedMatch}, its log now ends at ${pr.followerLastIndex}; the leader cannot catch it up. Run: testudo cluster repair-member --id ${s.id} (or remove it and add it back; docs/operations.md)`;
  }
  if (!s.ready) return `not ready: ${s.notReadyReason}`;
  if (leader === undefined) return s.lag > 0 ? 'no leader answered' : '';
  if (pr?.state === 'snapshot') return 'receiving a snapshot from the leader';
  if (s.lag > 0) return `catching up: the leader has it at ${pr?.match ?? '?'} of ${leader.lastIndex} (${pr?.state ?? 'unknown'})`;
  if (s.appliedIndex < s.commitIndex) return `applying: applied ${s.appliedIndex} of commit ${s.commitIndex}`;
  return '';
}

function unreachable(id: string, address: string, kind: string): MemberStatus {
  return {
    id,
    address,
    role: 'unreachable',
    term: 0,
    commitIndex: 0,
    appliedIndex: 0,
    lastIndex: 0,
    leaderId: '',
    lag: 0,
    kind,
    reachable: false,
    error: '',
    version: '',
    snapshotIndex: 0,
    firstIndex: 0,
    clusterId: '',
    ready: false,
    notReadyReason: '',
    lagReason: '',
    progress: [],
  };
}

function requireMember(host: AdminHost, id: string, kind: 'voter' | 'any'): void {
  const member = host.machine.members().find((m) => m.id === id);
  if (member === undefined) throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `${id} is not a member of this cluster`);
  if (kind === 'voter' && member.kind !== 'voter') throw new InvalidArgumentError('to', `${id} is a ${member.kind}, not a voter`);
}

function membersReply(host: AdminHost): { id: string; address: string; kind: string }[] {
  return host.machine.members().map((m) => ({ id: m.id, address: m.address, kind: m.kind }));
}

/** Adds `id` as a learner, waits for it to catch up, then promotes it (unless `learnerOnly`). */
async function addMember(host: AdminHost, req: { id: string; address: string; learnerOnly: boolean }, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  const existing = host.machine.members().find((m) => m.id === req.id);
  if (existing !== undefined && (existing.kind === 'voter' || req.learnerOnly)) {
    throw new ServiceError(grpc.status.ALREADY_EXISTS, 'invalid', false, `${req.id} is already a ${existing.kind} at ${existing.address}`);
  }
  const context = encodeMemberContext({ address: req.address });
  if (existing === undefined) await proposeWhenReady(host, { type: ConfChangeType.AddLearner, nodeId: req.id, context }, deadline);
  if (req.learnerOnly) return { members: membersReply(host), promoted: false };
  // The core refuses a promotion while the learner lags by more than
  // learnerPromotionLagMax entries, but a short log makes even a learner that
  // never answered look close; so first wait until it has acknowledged the
  // entry that added it.
  const addedAt = host.node.appliedIndex;
  while ((host.node.status().progress.get(req.id)?.match ?? 0) < addedAt) {
    if (!host.node.isLeader) throw new ServiceError(grpc.status.UNAVAILABLE, 'leadership-lost', true, 'lost leadership while the new member caught up');
    if (Date.now() + catchUpPollMs > deadline) {
      throw new ServiceError(grpc.status.DEADLINE_EXCEEDED, 'timeout', false, `${req.id} at ${req.address} has not caught up; it stays a learner (is it running with --join?)`);
    }
    await sleep(catchUpPollMs);
  }
  await proposeWhenReady(host, { type: ConfChangeType.AddVoter, nodeId: req.id, context }, deadline);
  return { members: membersReply(host), promoted: true };
}

/**
 * Proposes a membership change, waiting while the core refuses it for a
 * reason that passes: another change still being applied (a new leader has
 * one until it applies its first entry) or a learner still catching up.
 */
async function proposeWhenReady(host: AdminHost, change: ConfChange, deadline: number): Promise<void> {
  for (;;) {
    try {
      await host.node.proposeConfChange(change);
      return;
    } catch (error) {
      const passing = error instanceof ConfChangeError && (error.reason === 'learner-behind' || error.reason === 'pending');
      if (!passing || Date.now() + catchUpPollMs > deadline) throw error;
      await sleep(catchUpPollMs);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function removeMember(host: AdminHost, id: string, timeoutMs: number, caller: Principal | null): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  if (id !== host.nodeId) {
    await proposeWhenReady(host, { type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) }, deadline);
    await waitForRemovalApplied(host, id, host.node.appliedIndex, deadline, caller);
    return { members: membersReply(host) };
  }
  // The leader removes itself by handing leadership to the most caught-up voter first.
  const st = host.node.status();
  const successor = [...st.progress.entries()]
    .filter(([peer, pr]) => peer !== id && st.confState.voters.includes(peer) && pr.regression === null)
    .sort((a, b) => b[1].match - a[1].match)[0];
  if (successor === undefined) throw new ServiceError(grpc.status.FAILED_PRECONDITION, 'conf-change', false, `${id} is the last voter and cannot be removed`);
  const [successorId] = successor;
  await host.node.transferLeadership(successorId, Math.min(transferTimeoutMs, timeoutMs));
  const address = host.machine.members().find((m) => m.id === successorId)?.address ?? '';
  return forwardOrRelay(host, address, 'Cluster', 'RemoveMember', { id }, Math.max(1, deadline - Date.now()), caller);
}

/**
 * Waits until a majority of the voters that remain after removing `removed`
 * (this leader among them) has applied the log at least to `index` (where
 * the removal is): only then may the operator stop the removed member's
 * process. Until a survivor has applied it, the survivors still count the
 * removed member; if this leader were then lost for good, they would need
 * the removed member's vote, and with it stopped could elect no one (the
 * simulator's seed 108694; docs/operations.md, "Removing and replacing a
 * member"). The removal itself stands either way: past the deadline the
 * call fails with DEADLINE_EXCEEDED naming the members it waited for.
 */
async function waitForRemovalApplied(host: AdminHost, removed: string, index: number, deadline: number, caller: Principal | null): Promise<void> {
  for (;;) {
    const voters = host.node.status().confState.voters.filter((v) => v !== removed);
    const need = Math.floor(voters.length / 2) + 1;
    const applied: string[] = [];
    const waiting: string[] = [];
    const probeMs = Math.max(1, Math.min(memberProbeTimeoutMs, deadline - Date.now()));
    await Promise.all(
      voters.map(async (voter) => {
        const address = host.machine.members().find((m) => m.id === voter)?.address ?? '';
        const status = await memberStatusOf(host, { id: voter, address, kind: 'voter' }, probeMs, caller);
        (status.reachable && status.appliedIndex >= index ? applied : waiting).push(voter);
      }),
    );
    if (applied.length >= need) return;
    const lost = !host.node.isLeader;
    if (lost || Date.now() + catchUpPollMs > deadline) {
      // Not retryable: the removal is committed; a retry would only find it done.
      const why = `${removed} is removed (index ${index}), but only ${applied.sort().join(', ')} of the remaining voters ${voters.join(', ')} applied it and ${need} must: keep ${removed}'s process running until \`testudo cluster status\` shows ${waiting.sort().join(', ')} applied past ${index}`;
      if (lost) throw new ServiceError(grpc.status.UNAVAILABLE, 'not-applied', false, `lost leadership while waiting: ${why}`);
      throw new ServiceError(grpc.status.DEADLINE_EXCEEDED, 'not-applied', false, why);
    }
    await sleep(catchUpPollMs);
  }
}

/**
 * Resets the leader's progress of follower `id` (see RaftCore.resetFollowerProgress),
 * then waits, at most `timeoutMs`, for it to reach the commit index of the
 * time of the reset; a member still catching up afterwards is not an error.
 */
async function repairMember(host: AdminHost, id: string, timeoutMs: number): Promise<unknown> {
  if (id === host.nodeId) throw new InvalidArgumentError('id', `${id} is the leader; only a follower can be repaired`);
  const deadline = Date.now() + timeoutMs;
  const target = host.node.status().commit;
  const { probeFrom, wasRegressed } = host.node.resetFollowerProgress(id);
  let match = 0;
  for (;;) {
    match = host.node.status().progress.get(id)?.match ?? 0;
    if (match >= target || !host.node.isLeader || Date.now() + catchUpPollMs > deadline) break;
    await sleep(catchUpPollMs);
  }
  return { id, wasRegressed, probeFrom, caughtUp: match >= target, match };
}
