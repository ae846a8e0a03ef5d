import * as grpc from '@grpc/grpc-js';

import type { Capabilities, WorkerHello, WorkerMessageReceived } from '../../model/index.js';
import { sessionKeyHash } from '../../security/auth-token.js';
import { InvalidArgumentError } from '../codec.js';
import { workerIdentityRefusal, type RegisterOutcome } from '../orchestrator/state.js';
import { failStream } from '../stream-status.js';
import { leaderProposal, type LeaderHost } from './host.js';
import type { Session, SessionCall, SessionTable } from './session-table.js';

/**
 * Longest a coordinator that knows no leader holds a new session before it
 * answers `not_leader`: an election usually ends well within it, and the
 * worker then dials the new leader at once instead of backing off.
 */
export const leaderHintWaitMs = 2000;
/** How often a held session checks for a leader. */
export const leaderHintPollMs = 20;

/** Where the protocol hands what a session carries. */
export interface SessionSink {
  /** This node's role now: a session opened while not leading is sent to the leader. */
  role(): 'leader' | 'follower' | 'stopped';
  results(workerId: string, raw: readonly string[]): void;
  resetDone(workerId: string, ok: boolean, reason: string): void;
  /** A worker registered: its slots may take work. */
  kick(): void;
}

/**
 * The Worker.Session stream protocol: turns a stream's messages into calls
 * on the leader's parts (hello → register-worker, heartbeat → ack and
 * liveness, results → ResultCommit, reset_done → Housekeeping), and sends a
 * session opened on a follower to the leader.
 */
export class SessionProtocol {
  constructor(
    private readonly host: LeaderHost,
    private readonly table: SessionTable,
    private readonly sink: SessionSink,
  ) {}

  /** A new stream: served here when leading, else sent on. */
  open(call: SessionCall): void {
    if (this.sink.role() === 'leader') this.serve(call);
    else void this.redirect(call);
  }

  /**
   * Not leading: send the worker to the leader. During an election there is
   * none to name, so wait (at most `leaderHintWaitMs`) for one to be known
   * rather than send the worker into a backoff; if this node wins meanwhile,
   * it serves the session itself.
   */
  private async redirect(call: SessionCall): Promise<void> {
    const deadlineMs = Date.now() + leaderHintWaitMs;
    let hint = this.host.leaderHint();
    while (hint.leaderId === '' && this.sink.role() === 'follower' && !call.cancelled && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, leaderHintPollMs));
      hint = this.host.leaderHint();
    }
    if (this.sink.role() === 'leader') {
      this.serve(call);
      return;
    }
    if (call.cancelled || call.writableEnded) return;
    call.write({ notLeader: hint });
    call.end();
  }

  /** The leader's side of one session, from `hello` on. */
  private serve(call: SessionCall): void {
    let session: Session | null = null;
    call.on('data', (message: WorkerMessageReceived) => {
      try {
        if (message.hello !== undefined && message.hello !== null) {
          if (session !== null) throw new Error('a session says hello twice');
          void this.hello(call, message.hello).then((s) => (session = s));
          return;
        }
        if (session === null) throw new Error('the first message of a session must be hello');
        this.onMessage(session, message);
      } catch (error) {
        this.host.log.warn({ err: error }, 'worker session protocol error');
        failStream(call, { code: grpc.status.INVALID_ARGUMENT, details: (error as Error).message });
      }
    });
    const closed = (): void => {
      if (session !== null && this.table.closed(session)) this.host.log.info({ workerId: session.workerId }, 'worker session ended');
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('error', closed);
    call.on('close', closed);
  }

  private onMessage(session: Session, message: WorkerMessageReceived): void {
    this.table.heard(session.workerId, this.host.nowMs());
    if (message.heartbeat !== undefined && message.heartbeat !== null) session.call.write({ heartbeatAck: { seq: message.heartbeat.seq } });
    if (message.results !== undefined && message.results !== null) this.sink.results(session.workerId, message.results.results);
    if (message.resetDone !== undefined && message.resetDone !== null) this.sink.resetDone(session.workerId, message.resetDone.ok, message.resetDone.reason);
  }

  /** Checks a hello and registers its worker; the session, or null when refused (the stream is failed). */
  private async hello(call: SessionCall, hello: WorkerHello): Promise<Session | null> {
    if (hello.clusterId !== '' && hello.clusterId !== this.host.clusterId) {
      // Checked before registering: a worker meant for another cluster leaves no trace in this one.
      this.host.log.warn({ workerId: hello.workerId, workerClusterId: hello.clusterId, clusterId: this.host.clusterId }, 'refused a worker of another cluster');
      failStream(call, { code: grpc.status.FAILED_PRECONDITION, details: `cluster id mismatch: this coordinator belongs to cluster "${this.host.clusterId}", the worker to "${hello.clusterId}"` });
      return null;
    }
    let capabilities: Capabilities;
    try {
      capabilities = JSON.parse(hello.capabilities) as Capabilities;
    } catch {
      failStream(call, { code: grpc.status.INVALID_ARGUMENT, details: 'hello.capabilities is not JSON' });
      return null;
    }
    const keyHash = sessionKeyHash(hello.sessionKey);
    const bound = this.host.orchestrator.workerKeyHash(hello.workerId);
    // The state machine refuses it too (two racing sessions); checking first spares the log an entry per impostor.
    if (bound !== '' && bound !== keyHash) {
      this.refuseIdentity(call, hello.workerId);
      return null;
    }
    try {
      const { value } = await this.host.proposer.propose(
        { type: 'register-worker', workerId: hello.workerId, name: hello.name, capabilities, slots: hello.slots, httpAddress: hello.httpAddress, running: hello.running, pending: hello.pending, interrupted: hello.interrupted, bootId: hello.bootId, uncleanStart: hello.uncleanStart, sessionKeyHash: keyHash },
        leaderProposal(this.host),
      );
      if (value === null) throw new Error('register-worker gave no outcome');
      return this.welcome(call, hello, value);
    } catch (error) {
      this.registrationFailed(call, hello.workerId, error);
      return null;
    }
  }

  /** The worker is registered: its session opens, and it hears what to run, drop and do. */
  private welcome(call: SessionCall, hello: WorkerHello, outcome: RegisterOutcome): Session {
    const session: Session = { call, workerId: hello.workerId, sent: new Set(hello.running) };
    this.table.open(session, this.host.nowMs());
    const { heartbeatIntervalMs, workerTtlMs } = this.host.settings;
    call.write({ welcome: { workerId: hello.workerId, leaderId: this.host.nodeId, heartbeatIntervalMs, ttlMs: workerTtlMs, clusterId: this.host.clusterId } });
    if (outcome.cancel.length > 0) call.write({ cancel: { attemptIds: [...outcome.cancel], reason: 'the coordinator does not assign this attempt to this worker' } });
    this.table.sendOrders(session, outcome.resend);
    if (outcome.reset) call.write({ reset: { reason: 'a reset was asked for while the worker was away' } });
    this.host.log.info({ workerId: hello.workerId, slots: hello.slots, resend: outcome.resend.length, cancel: outcome.cancel.length, interrupted: outcome.interrupted }, 'worker registered');
    this.sink.kick();
    return session;
  }

  private registrationFailed(call: SessionCall, workerId: string, error: unknown): void {
    const rejected = error instanceof InvalidArgumentError;
    if (rejected && error.message.includes(workerIdentityRefusal)) {
      this.refuseIdentity(call, workerId);
      return;
    }
    this.host.log.warn({ err: error, workerId }, 'worker registration failed');
    const hint = this.host.leaderHint();
    if (!rejected && hint.leaderId !== this.host.nodeId) call.write({ notLeader: hint });
    failStream(call, { code: rejected ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAVAILABLE, details: `registration failed: ${(error as Error).message}` });
  }

  /** Refuses a session under a worker id bound to another session key; the worker holding the id keeps its session. */
  private refuseIdentity(call: SessionCall, workerId: string): void {
    this.host.onSessionRefused?.('identity');
    this.host.log.warn({ event: 'worker-identity-refused', workerId, peer: call.getPeer() }, `refused a session under worker id ${workerId}: the id is bound to another session key`);
    failStream(call, {
      code: grpc.status.PERMISSION_DENIED,
      details: `worker id ${workerId} is registered with another session key (<work dir>/session-key): another worker uses this id, or this work dir lost its key; start with a fresh work dir to register as a new worker`,
    });
  }
}
