import type { ClusterStatus } from '../client/index.js';

/**
 * Benchmarks and drills wait for the cluster to settle (one leader that
 * every member follows; members caught up) before they measure anything.
 * When it does not within the wait, they stop with this error, which the
 * CLI turns into exit 3 (no leader / cluster unreachable, docs/cli.md).
 */
export type NotSettledReason = 'no-leader' | 'lagging';

/** The cluster had no stable leader, or its members did not catch up, within the wait. */
export class ClusterNotSettledError extends Error {
  override readonly name = 'ClusterNotSettledError';
  readonly reason: NotSettledReason;
  readonly endpoints: readonly string[];
  readonly waitedMs: number;
  /** What the last look at the cluster showed, in words ('' when no coordinator ever answered). */
  readonly lastSeen: string;

  constructor(reason: NotSettledReason, endpoints: readonly string[], waitedMs: number, lastSeen: string, options?: { cause?: unknown }) {
    const what = reason === 'no-leader' ? 'no stable leader' : 'the members did not catch up with the leader';
    super(`${what} at ${endpoints.join(', ')} within ${(waitedMs / 1000).toFixed(1)} s${lastSeen === '' ? '' : ` (last seen: ${lastSeen})`}`, options);
    this.reason = reason;
    this.endpoints = [...endpoints];
    this.waitedMs = waitedMs;
    this.lastSeen = lastSeen;
  }
}

/** A status in a few words per member: `n1 leader (term 4); n2 follows n1; n3 unreachable`. */
export function describeStatus(status: ClusterStatus): string {
  return status.members
    .map((m) => {
      if (!m.reachable) return `${m.id} unreachable`;
      if (m.role === 'leader') return `${m.id} leader (term ${m.term})`;
      const follows = m.leaderId === '' ? 'knows no leader' : `follows ${m.leaderId}`;
      return `${m.id} ${m.role === 'follower' ? '' : `${m.role}, `}${follows} (term ${m.term}, ${m.lag} behind)`;
    })
    .join('; ');
}

/** The last error seen while asking, in words, for `lastSeen`. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
