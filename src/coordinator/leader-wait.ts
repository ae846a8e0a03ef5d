import { assert } from '../common/assert.js';

/**
 * Client calls that reach a coordinator while it knows no leader (a
 * survivor between noticing the old leader gone and hearing of the new one),
 * or whose forward found the leader it knew unreachable, wait here for the
 * next report of a leader instead of failing at once: most elections end
 * well within one election timeout, and the call then goes on (run here if
 * this node won, forwarded or redirected with the new leader's address
 * otherwise). Nothing is sent anywhere while a call waits, and a call that
 * times out here fails with the same retryable error as before (etcd holds a
 * proposal the same way while it has no leader, up to its request timeout).
 *
 * Bounds: each call waits at most `holdMs` (one election timeout) and never
 * past its own deadline; at most `heldCallsMax` calls wait at once, and a
 * call beyond that fails at once, as it did before holding existed.
 */

/** Calls that may wait for a leader at once, per coordinator; the next one fails at once with no-leader. */
export const heldCallsMax = 1024;

export interface LeaderWaitOptions {
  /** Longest one call waits for a leader (the coordinator passes one election timeout, tickMs × electionTicks). */
  readonly holdMs: number;
  /** Default heldCallsMax. */
  readonly heldCallsMax?: number;
}

interface Held {
  readonly done: (leaderKnown: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

/** What became of one wait: a leader is known, the wait ran out, or too many calls were waiting already. */
export type LeaderWaitOutcome = 'leader-known' | 'timed-out' | 'refused';

export class LeaderWait {
  readonly holdMs: number;
  readonly heldCallsMax: number;
  private readonly held = new Set<Held>();
  private closed = false;

  constructor(options: LeaderWaitOptions) {
    assert(Number.isFinite(options.holdMs) && options.holdMs >= 0, `holdMs must be a non-negative number, got ${options.holdMs}`);
    this.holdMs = options.holdMs;
    this.heldCallsMax = options.heldCallsMax ?? heldCallsMax;
    assert(Number.isSafeInteger(this.heldCallsMax) && this.heldCallsMax >= 0, `heldCallsMax must be a non-negative integer, got ${this.heldCallsMax}`);
  }

  /** Calls waiting now. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Waits until `leaderChanged` next reports a leader, at most `holdMs` and
   * at most `remainingMs` (what is left of the call's deadline): 'refused' at once when
   * heldCallsMax calls wait already or the node is stopping.
   */
  wait(remainingMs: number): Promise<LeaderWaitOutcome> {
    const waitMs = Math.min(this.holdMs, remainingMs);
    if (this.closed || waitMs <= 0 || this.held.size >= this.heldCallsMax) return Promise.resolve(waitMs <= 0 ? 'timed-out' : 'refused');
    return new Promise<LeaderWaitOutcome>((resolve) => {
      const entry: Held = {
        done: (leaderKnown) => {
          clearTimeout(entry.timer);
          this.held.delete(entry);
          resolve(leaderKnown ? 'leader-known' : 'timed-out');
        },
        timer: setTimeout(() => entry.done(false), waitMs),
      };
      this.held.add(entry);
      assert(this.held.size <= this.heldCallsMax, `${this.held.size} calls held, bound ${this.heldCallsMax}`);
    });
  }

  /** This node's view of the leader (or its role) changed; '' is none. Every waiting call goes on when a leader is known. */
  leaderChanged(leaderId: string): void {
    if (leaderId === '') return;
    for (const entry of [...this.held]) entry.done(true);
  }

  /** The node stops: waiting calls go on (and fail as the node is stopping); later waits end at once. */
  close(): void {
    this.closed = true;
    for (const entry of [...this.held]) entry.done(false);
  }
}
