import type * as grpc from '@grpc/grpc-js';

/** The Worker.Session stream's messages (proto/testudo.proto), as grpc-js hands them over. */

export interface HelloMessage {
  workerId: string;
  name: string;
  slots: number;
  httpAddress: string;
  capabilities: string;
  running: string[];
  pending: string[];
  /** Attempts a previous process of this worker started and died with (absent from older workers). */
  interrupted?: string[];
  /** Random per worker process (absent or '' from older workers). */
  bootId?: string;
  /** The process found its predecessor's work-dir lock left behind (it died without stopping). */
  uncleanStart?: boolean;
  version: string;
  sessionKey?: string;
  clusterId: string;
}

export interface WorkerMessage {
  hello?: HelloMessage;
  heartbeat?: { seq: number };
  results?: { results: string[] };
  resetDone?: { ok: boolean; reason: string };
}

export type CoordinatorMessage =
  | { welcome: { workerId: string; leaderId: string; heartbeatIntervalMs: number; ttlMs: number; clusterId: string } }
  | { notLeader: { leaderId: string; leaderAddress: string } }
  | { assign: { orders: string[] } }
  | { cancel: { attemptIds: string[]; reason: string } }
  | { committed: { attemptIds: string[] } }
  | { heartbeatAck: { seq: number } }
  | { reset: { reason: string } };

export type SessionCall = grpc.ServerDuplexStream<WorkerMessage, CoordinatorMessage>;
