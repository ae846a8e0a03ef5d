import type { Rng } from '../../common/rand.js';
import type { Storage } from './storage.js';
import type { NodeId } from './types.js';

/** Everything a RaftCore needs; time is counted in ticks, randomness comes from `rng`. */
export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  readonly rng: Rng;
  /** Ticks without hearing from a leader before a follower campaigns; actual timeout is randomized in [n, 2n). */
  readonly electionTimeoutTicks?: number;
  /** Ticks between a leader's heartbeats; must be well below the election timeout. */
  readonly heartbeatIntervalTicks?: number;
  /** Ask for pre-votes before raising the term, so a rejoining node cannot disrupt a healthy leader. */
  readonly preVote?: boolean;
  /** A leader that has not heard from a majority within an election timeout steps down; followers ignore votes while they hear from a leader. */
  readonly checkQuorum?: boolean;
  /**
   * Check-quorum: election timeouts in a row in which a leader heard from no
   * quorum before it steps down (1, the default, is etcd's rule). More lets
   * a leader ride out followers that are busy applying a large entry,
   * without changing when a follower campaigns or any lease.
   */
  readonly checkQuorumTimeouts?: number;
  /** Most entry bytes in one append message (always at least one entry). */
  readonly messageBytesMax?: number;
  /** Most unacknowledged append messages per follower. */
  readonly inflightMessagesMax?: number;
  /** Most unacknowledged entry bytes per follower (0: unlimited). */
  readonly inflightBytesMax?: number;
  /** Most bytes of uncommitted entries a leader accepts before refusing proposals. */
  readonly uncommittedBytesMax?: number;
  /** Most bytes of committed entries handed to the application in one Ready. */
  readonly committedBytesPerReadyMax?: number;
  /** A learner may become a voter only when at most this many entries behind the leader. */
  readonly learnerPromotionLagMax?: number;
  /** Most ReadIndex requests pending on a leader at once. */
  readonly readRequestsPendingMax?: number;
  /** Ticks a leader waits for a snapshot to be acknowledged before probing again. */
  readonly snapshotTimeoutTicks?: number;
  /**
   * When the leader is reported lost (`reportPeerLost`), the follower ranked
   * r among the remaining voters campaigns after 1 + r × this many ticks, so
   * that they do not all campaign at once and split the vote.
   */
  readonly leaderLostStaggerTicks?: number;
  /**
   * How a leader confirms a linearizable read. 'safe': a heartbeat round to a
   * quorum per batch of reads (ReadIndex, Raft thesis §6.4). 'lease': at once,
   * with no round, while the leader holds a lease (see `leaseSafetyTicks`);
   * needs `checkQuorum`, and turns `reportPeerLost` off. See docs/raft.md,
   * "Lease-based reads", for the clock-drift bound it rests on.
   */
  readonly readMode?: ReadMode;
  /**
   * Lease mode: a lease lasts electionTimeoutTicks − this many of the
   * leader's ticks after the heartbeat a quorum acknowledged was sent. One
   * tick covers tick rounding; the rest cover a leader whose ticks run slower
   * than its followers' (drift, a late timer).
   */
  readonly leaseSafetyTicks?: number;
}

export type ReadMode = 'safe' | 'lease';

export const DEFAULTS = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  checkQuorumTimeouts: 1,
  messageBytesMax: 1024 * 1024,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 * 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  committedBytesPerReadyMax: 8 * 1024 * 1024,
  learnerPromotionLagMax: 64,
  readRequestsPendingMax: 4096,
  snapshotTimeoutTicks: 30,
  leaderLostStaggerTicks: 3,
  readMode: 'safe' as ReadMode,
  leaseSafetyTicks: 3,
} as const;

export type ResolvedRaftConfig = Required<RaftConfig>;

export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = { ...DEFAULTS, ...definedOnly(config) } as ResolvedRaftConfig;
  if (resolved.id === '') throw new RangeError('raft config: id must not be empty');
  if (!(resolved.heartbeatIntervalTicks > 0)) throw new RangeError('raft config: heartbeatIntervalTicks must be positive');
  if (!(resolved.electionTimeoutTicks > resolved.heartbeatIntervalTicks)) {
    throw new RangeError('raft config: electionTimeoutTicks must exceed heartbeatIntervalTicks');
  }
  if (!(Number.isSafeInteger(resolved.leaderLostStaggerTicks) && resolved.leaderLostStaggerTicks > 0)) {
    throw new RangeError('raft config: leaderLostStaggerTicks must be a positive integer');
  }
  if (!(Number.isSafeInteger(resolved.checkQuorumTimeouts) && resolved.checkQuorumTimeouts > 0)) {
    throw new RangeError('raft config: checkQuorumTimeouts must be a positive integer');
  }
  checkReadMode(resolved);
  if (!(resolved.inflightMessagesMax > 0)) throw new RangeError('raft config: inflightMessagesMax must be positive');
  if (!(resolved.messageBytesMax > 0)) throw new RangeError('raft config: messageBytesMax must be positive');
  return resolved;
}

function checkReadMode(resolved: ResolvedRaftConfig): void {
  const { readMode, leaseSafetyTicks, electionTimeoutTicks, heartbeatIntervalTicks } = resolved;
  if (readMode !== 'safe' && readMode !== 'lease') throw new RangeError(`raft config: readMode must be 'safe' or 'lease', got ${String(readMode)}`);
  if (!(Number.isSafeInteger(leaseSafetyTicks) && leaseSafetyTicks >= 1)) throw new RangeError('raft config: leaseSafetyTicks must be an integer of at least 1');
  if (readMode !== 'lease') return;
  if (!resolved.checkQuorum) {
    throw new RangeError("raft config: readMode 'lease' needs checkQuorum: only followers that refuse votes while they hear from a leader keep a lease true; turn checkQuorum on or use readMode 'safe'");
  }
  if (!(electionTimeoutTicks - leaseSafetyTicks > heartbeatIntervalTicks)) {
    throw new RangeError(
      `raft config: readMode 'lease' needs electionTimeoutTicks − leaseSafetyTicks (${electionTimeoutTicks} − ${leaseSafetyTicks}) above heartbeatIntervalTicks (${heartbeatIntervalTicks}), or no lease would outlast one heartbeat`,
    );
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
