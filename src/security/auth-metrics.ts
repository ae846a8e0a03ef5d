import { Counter, type Registry } from 'prom-client';

/**
 * Counters of what authentication and identity checks refused, in the
 * node's registry. Labels name the method and the reason, never a caller's
 * name or token.
 */
export class AuthMetrics {
  private readonly refused: Counter<'method' | 'reason'>;
  private readonly peerMessages: Counter<'reason'>;
  private readonly results: Counter<'reason'>;
  private readonly sessions: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.refused = new Counter({
      name: 'testudo_auth_refused_total',
      help: 'gRPC calls and HTTP requests refused by authentication or authorization, by method and reason (unauthenticated, wrong-role, forged-forward).',
      labelNames: ['method', 'reason'],
      registers,
    });
    this.peerMessages = new Counter({
      name: 'testudo_raft_peer_messages_refused_total',
      help: 'Raft peer calls and messages dropped: no or unknown peer credential (unauthenticated, wrong-role), a sender id other than the credential (identity), a message whose sender is not its stream\'s (forged-sender), a sender that is not a member (non-member).',
      labelNames: ['reason'],
      registers,
    });
    this.results = new Counter({
      name: 'testudo_worker_results_refused_total',
      help: 'Results a worker sent that were refused, never proposed: naming another worker (names-other-worker) or for an attempt assigned to another worker (foreign-attempt).',
      labelNames: ['reason'],
      registers,
    });
    this.sessions = new Counter({
      name: 'testudo_worker_sessions_refused_total',
      help: 'Worker sessions refused because the worker id is bound to another session key (identity).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['names-other-worker', 'foreign-attempt']) this.results.inc({ reason }, 0);
    this.sessions.inc({ reason: 'identity' }, 0);
    for (const reason of ['unauthenticated', 'wrong-role', 'identity', 'forged-sender', 'non-member']) this.peerMessages.inc({ reason }, 0);
  }

  callRefused(method: string, reason: string): void {
    this.refused.inc({ method, reason });
    if (method.startsWith('RaftPeer.')) this.peerMessages.inc({ reason });
  }

  peerMessagesRefused(reason: string, count: number): void {
    this.peerMessages.inc({ reason }, count);
  }

  resultRefused(reason: string): void {
    this.results.inc({ reason });
  }

  sessionRefused(reason: string): void {
    this.sessions.inc({ reason });
  }
}
