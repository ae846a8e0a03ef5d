/**
 * Plain data shared by the Raft core, its storage and its drivers.
 *
 * Indexes and terms are JavaScript numbers: they are integers below 2^53, far
 * beyond any log this process could hold. Node ids are short strings ("n1").
 */

export type NodeId = string;

/** The id used where no node is meant (no vote cast, no leader known). */
export const NO_NODE: NodeId = '';

export const EntryType = {
  /** Application data (or an empty entry a new leader appends). */
  Normal: 0,
  /** A single membership change, encoded with `encodeConfChange`. */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on disk before a node answers anyone (Raft figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };

/** The membership as of some log index. Voters and learners never overlap. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = {
  metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  data: new Uint8Array(0),
};

export const ConfChangeType = {
  AddVoter: 0,
  AddLearner: 1,
  RemoveNode: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One membership change. Raft applies them one at a time. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to the core; drivers keep the new member's address here. */
  readonly context: Uint8Array;
}

export const MessageType = {
  /** Candidate asks for a vote. */
  Vote: 'Vote',
  VoteResp: 'VoteResp',
  /** Would-be candidate asks whether it could win, without raising any term. */
  PreVote: 'PreVote',
  PreVoteResp: 'PreVoteResp',
  /** Leader appends entries (also probes with an empty append). */
  App: 'App',
  AppResp: 'AppResp',
  /** Leader's heartbeat; carries a ReadIndex context when one is pending. */
  Heartbeat: 'Heartbeat',
  HeartbeatResp: 'HeartbeatResp',
  /** Leader sends a whole snapshot to a follower behind its first index. */
  Snap: 'Snap',
  /** Leader tells the transfer target to campaign at once. */
  TimeoutNow: 'TimeoutNow',
  /** Follower forwards a linearizable read request to the leader. */
  ReadIndex: 'ReadIndex',
  ReadIndexResp: 'ReadIndexResp',
  /** Follower forwards a leadership transfer request to the leader. */
  TransferLeader: 'TransferLeader',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * A message between peers. Fields a type does not use keep their zero value,
 * so a transport can encode every message with one schema.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** App: term of the entry at `index`. Vote/PreVote: term of the last entry. */
  readonly logTerm: number;
  /** App: index preceding `entries`. Vote: last index. AppResp: match or rejected index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /**
   * Vote/PreVote: term of the entry at `commit`. With it a node that missed
   * the commit of entries it holds (a learner whose promotion committed
   * while its leader died) learns it from any candidate (see core.ts
   * learnCommit).
   */
  readonly commitTerm: number;
  /**
   * *Resp: refused. Heartbeat: the leader found this follower's log went back
   * below what it acknowledged and will not catch it up until an operator
   * resets its progress (the follower is then not ready).
   */
  readonly reject: boolean;
  /** AppResp on reject: the follower's hint of where the logs may agree. */
  readonly rejectHint: number;
  /** Snap only. */
  readonly snapshot: Snapshot | null;
  /** ReadIndex/Heartbeat: the read request's context. Vote: "transfer" when forced. */
  readonly context: string;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state a driver may show; it need not be persisted. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/** A linearizable read is safe once the local applied index reaches `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** Why a read request could not be served; the caller may retry elsewhere. */
export interface ReadFailure {
  readonly context: string;
  readonly reason: 'not-leader' | 'no-leader' | 'lost-leadership';
  readonly leader: NodeId;
}

/**
 * Everything the core wants done, in one value. The driver must handle the
 * fields in this order and then call `advance(ready)`:
 *
 * 1. `snapshot`, `entries` and `hardState` are written to stable storage in
 *    one synced batch. Nothing that follows may happen before the write is
 *    durable: votes, appends and acknowledgements in `messages` promise that
 *    the state they describe survives a crash.
 * 2. `messages` are sent (in any order; Raft tolerates reordering and loss).
 * 3. `snapshot` (if any) is restored into the state machine, then
 *    `committedEntries` are applied in order. They may include entries from
 *    `entries` in the same Ready, which is safe because step 1 came first.
 * 4. `readStates` are served once the applied index reaches each index.
 */
export interface Ready {
  /** Present when the role or the known leader changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Present when term, vote or commit changed; persist before sending. */
  readonly hardState: HardState | null;
  /** Entries to append to stable storage (replacing any conflicting suffix). */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and restore. */
  readonly snapshot: Snapshot | null;
  /** Entries known committed, to apply in order. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after the write above is durable. */
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
  /** False when only volatile state changed and the write may skip fsync. */
  readonly mustSync: boolean;
}

/** A message with every optional field at its zero value. */
export function message(fields: Pick<Message, 'type' | 'from' | 'to' | 'term'> & Partial<Message>): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    commitTerm: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: '',
    ...fields,
  };
}

export function isEmptySnapshot(snapshot: Snapshot): boolean {
  return snapshot.metadata.index === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Bytes an entry adds to a message or to the uncommitted budget. */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + 24;
}

export function entriesBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entryBytes(entry);
  return total;
}
