import type { FollowerProgress, WorkerRecord, WorkerService } from '../model/index.js';
import type { RetryOptions } from './retry.js';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { AddressRoutes } from './routes.js';

export type { FollowerProgress };

export interface TestudoClientOptions {
  /** Coordinators' client addresses, "host:port"; the first is tried first. */
  endpoints: string[];
  /** Deadline of one attempt. Default 5000. */
  callTimeoutMs?: number;
  /** Deadline of one operation, all its attempts and backoffs included. Default 30000. */
  totalTimeoutMs?: number;
  retry?: RetryOptions;
  /** Prefix of generated idempotency keys. Default: a random UUID per client. */
  clientId?: string;
  /** Largest message sent or received, bytes. Default 16 MiB. */
  messageBytesMax?: number;
  /**
   * Where to dial when an address is meant (`address → via`), for endpoints
   * and leader hints alike; the chaos module routes the client's link through
   * a fault proxy this way. Default: none.
   */
  routes?: AddressRoutes;
  /**
   * TLS for every channel: `clientTlsCredentials({ caFile, certFile?, keyFile? })`
   * (or any grpc-js ChannelCredentials). Default: plaintext.
   */
  credentials?: ChannelCredentials;
  /**
   * A watch stream (watchRun) that delivers nothing for this long is taken as
   * dead, cancelled and reopened on another coordinator. Servers send a
   * keepalive every second, so a few seconds only ever cut a stream whose
   * server is gone or cut off. Default 5000; never more than totalTimeoutMs.
   */
  watchIdleMs?: number;
  /**
   * The token to present (`authorization: Bearer <token>`) when the cluster
   * checks callers (docs/security.md). Default: none, for an open cluster.
   */
  token?: string;
  /**
   * Send the puts this client's callers make at the same time as one
   * Kv.PutMany call, committed in one log entry (src/client/write-batcher.ts):
   * each caller still gets its own answer once its write is committed. A
   * lone put is a plain Kv.Put. Default true; false sends every put alone.
   */
  batchWrites?: boolean;
}

export interface WriteOptions {
  /**
   * Deduplicates the write across retries and restarts of the caller. Default:
   * `${clientId}-${n}` with a per-client counter, the same for every retry.
   */
  idempotencyKey?: string;
}

export interface ReadOptions {
  /** Serve from the answering node's state, which may lag the leader. Default false. */
  stale?: boolean;
}

export interface ListOptions extends ReadOptions {
  prefix?: string;
  /** Keys strictly after this one. */
  startAfter?: string;
  /** 0 or absent: the server's default (1000); at most 10000. */
  limit?: number;
}

export interface ListAllOptions extends ReadOptions {
  prefix?: string;
  /** Keys per page (1..10000). Default 1000. */
  pageSize?: number;
}

export interface AdminOptions {
  /** Deadline of one attempt, for changes that take longer than a read. */
  callTimeoutMs?: number;
}

export interface PutResult {
  /** Log index of the write. */
  index: number;
  /** This attempt repeated an earlier one with the same idempotency key. */
  duplicate: boolean;
}

export interface DeleteResult extends PutResult {
  existed: boolean;
}

export interface KeyValue {
  key: string;
  value: Uint8Array;
  /** Log index of the write that set the value. */
  modIndex: number;
}

export interface GetResult {
  found: boolean;
  value?: Uint8Array;
  modIndex?: number;
  appliedIndex: number;
  servedBy: string;
}

export interface ListResult {
  items: KeyValue[];
  more: boolean;
  appliedIndex: number;
  servedBy: string;
}

export interface Member {
  id: string;
  address: string;
  /** "voter" or "learner". */
  kind: string;
}

export interface MemberStatus {
  id: string;
  address: string;
  /** follower | pre-candidate | candidate | leader | unreachable */
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
  /** The cluster the member belongs to (set when it was founded). */
  clusterId: string;
  /** The member's own readiness (/readyz) and why it is not ready. */
  ready: boolean;
  notReadyReason: string;
  /** Why the member has not caught up ('' when it has), e.g. that its log went back and how to repair it. */
  lagReason: string;
  /** Leader only: its replication progress for every member. */
  progress: FollowerProgress[];
}


export interface ClusterStatus {
  members: MemberStatus[];
  leaderId: string;
  term: number;
  servedBy: string;
}

export interface TransferLeaderResult {
  leaderId: string;
  term: number;
}

export interface AddMemberRequest {
  id: string;
  address: string;
  /** Keep the member a learner instead of promoting it once caught up. */
  learnerOnly?: boolean;
}

export interface AddMemberResult {
  members: Member[];
  promoted: boolean;
}

export interface RemoveMemberResult {
  members: Member[];
}

export interface RepairMemberResult {
  id: string;
  wasRegressed: boolean;
  probeFrom: number;
  caughtUp: boolean;
  match: number;
}

/** A copy of the cluster's replicated state (Cluster.SaveSnapshot), checked against its SHA-256. */
export interface SavedSnapshot {
  readonly clusterId: string;
  /** The applied index the state reflects. */
  readonly index: number;
  /** The serving node's term when it took the copy. */
  readonly term: number;
  readonly dataBytes: number;
  readonly dataSha256: string;
  readonly servedBy: string;
  readonly leaderId: string;
  readonly savedAtMs: number;
  /** A testudo.v1.MachineSnapshot. */
  readonly data: Uint8Array;
}

export interface SubmitRunResult {
  readonly runId: string;
  readonly tasks: number;
  /** The run existed already (an earlier submission of the same id). */
  readonly duplicate: boolean;
}

export interface WorkerInfo extends WorkerRecord {
  /** Has a session with the leader now. */
  readonly connected: boolean;
  /** Since the leader last heard from the worker, measured by the leader; -1 when it has not heard from it since it became leader. */
  readonly lastHeartbeatAgeMs: number;
  /** How much of its capacity the scheduler uses now (recovery's weighting), and why; '' from a coordinator older than the field. */
  readonly service: WorkerService | '';
  readonly serviceReason: string;
}
