import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { assert } from '../../common/assert.js';
import { tracer } from '../../common/trace.js';
import type { AttemptOrder, CoordinatorMessage, WorkerMessageReceived } from '../../model/index.js';

/** A worker's Session stream as the leader serves it (its messages: src/model/session.ts). */
export type SessionCall = grpc.ServerDuplexStream<WorkerMessageReceived, CoordinatorMessage>;

/** Messages queued to one worker before its session is cut (it reconnects). */
export const sessionQueueMax = 10_000;

export interface Session {
  readonly call: SessionCall;
  readonly workerId: string;
  /** Orders handed to the stream (attempt ids), to skip repeats. */
  readonly sent: Set<string>;
}

/**
 * The leader's open worker sessions, at most one per worker, and when it
 * last heard from each worker. Everything the other parts send a worker
 * goes through `write`, which cuts a session whose stream has backed up.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  private readonly lastSeenMs = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    /** The order of an attempt assigned and not ended, from the applied state. */
    private readonly attemptOrder: (attemptId: string) => AttemptOrder | undefined,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  has(workerId: string): boolean {
    return this.sessions.has(workerId);
  }

  /** When this leader last heard from the worker (its clock), or undefined. */
  lastSeen(workerId: string): number | undefined {
    return this.lastSeenMs.get(workerId);
  }

  heard(workerId: string, nowMs: number): void {
    this.lastSeenMs.set(workerId, nowMs);
  }

  /** A new leader has heard from nobody yet (its grace period covers the workers). */
  forgetHeard(): void {
    this.lastSeenMs.clear();
  }

  /** Makes `session` its worker's session; an older one of the worker ends. */
  open(session: Session, nowMs: number): void {
    const old = this.sessions.get(session.workerId);
    if (old !== undefined && old.call !== session.call) old.call.end();
    this.sessions.set(session.workerId, session);
    this.heard(session.workerId, nowMs);
  }

  /** The stream of `session` ended; true when it was its worker's session. */
  closed(session: Session): boolean {
    if (this.sessions.get(session.workerId) !== session) return false;
    this.sessions.delete(session.workerId);
    return true;
  }

  /** Sends to the worker's session, if it has one. */
  write(workerId: string, message: CoordinatorMessage): void {
    const session = this.sessions.get(workerId);
    if (session !== undefined) this.writeTo(session, message);
  }

  writeTo(session: Session, message: CoordinatorMessage): void {
    if (session.call.writableLength > sessionQueueMax) {
      this.log.warn({ workerId: session.workerId }, 'worker session backed up; cutting it (the worker reconnects)');
      this.end(session, null);
      return;
    }
    session.call.write(message);
  }

  /** Sends the orders of `attemptIds` not sent on this session yet (ended attempts have none). */
  sendOrders(session: Session, attemptIds: readonly string[]): void {
    const orders: string[] = [];
    for (const attemptId of attemptIds) {
      if (session.sent.has(attemptId)) continue;
      const order = this.attemptOrder(attemptId);
      if (order === undefined) continue;
      session.sent.add(attemptId);
      orders.push(JSON.stringify(order));
    }
    if (orders.length === 0) return;
    tracer?.event('leader.push', `worker=${session.workerId} orders=${orders.length}`);
    this.writeTo(session, { assign: { orders } });
  }

  /** Sends orders to the worker's session, if it has one. */
  sendOrdersTo(workerId: string, attemptIds: readonly string[]): void {
    const session = this.sessions.get(workerId);
    if (session !== undefined) this.sendOrders(session, attemptIds);
  }

  /** Ends the worker's session, if it has one. */
  endWorker(workerId: string): void {
    const session = this.sessions.get(workerId);
    if (session !== undefined) this.end(session, null);
  }

  /** Ends every session, each with `last` first when given; the table is empty after. */
  endAll(last: CoordinatorMessage | null): void {
    for (const session of [...this.sessions.values()]) this.end(session, last);
    assert(this.sessions.size === 0, 'a session outlived endAll');
  }

  private end(session: Session, last: CoordinatorMessage | null): void {
    if (last !== null) session.call.write(last);
    session.call.end();
    if (this.sessions.get(session.workerId) === session) this.sessions.delete(session.workerId);
  }
}
