import { describe, expect, it } from 'vitest';
import { NodeOverloadedError, ReadIndexError } from '../../src/raft/node/node-errors.js';
import { ReadQueue, readsPendingMax } from '../../src/raft/node/reads.js';

/** A read's outcome as the test sees it: the index, the error's name and reason, or still pending. */
function track(queue: ReadQueue, tick: number): { outcome: number | string | null } {
  const seen: { outcome: number | string | null } = { outcome: null };
  queue.add(
    tick,
    (index) => {
      expect(seen.outcome).toBeNull();
      seen.outcome = index;
    },
    (error) => {
      expect(seen.outcome).toBeNull();
      seen.outcome = error instanceof ReadIndexError ? `${error.name}:${error.reason}` : error.name;
    },
  );
  return seen;
}

describe('ReadQueue', () => {
  it('sends every queued read in one round, and nothing when none is queued', () => {
    const q = new ReadQueue('n1');
    expect(q.startRound()).toBeNull();
    const a = track(q, 0);
    const b = track(q, 1);
    expect(q.startRound()).toBe('n1:1');
    expect(q.startRound()).toBeNull();
    const c = track(q, 2);
    expect(q.startRound()).toBe('n1:2');
    q.roundAnswered('n1:1', 7, 7);
    expect([a.outcome, b.outcome, c.outcome]).toEqual([7, 7, null]);
    expect(q.size).toBe(1);
  });

  it('answers a round only once the state machine has applied its index, in index order', () => {
    const q = new ReadQueue('n1');
    const early = track(q, 0);
    q.startRound();
    const late = track(q, 0);
    q.startRound();
    // The later round comes back first, with a higher index; nothing is applied that far yet.
    q.roundAnswered('n1:2', 12, 9);
    q.roundAnswered('n1:1', 10, 9);
    expect([early.outcome, late.outcome]).toEqual([null, null]);
    q.serve(10);
    expect([early.outcome, late.outcome]).toEqual([10, null]);
    q.serve(12);
    expect([early.outcome, late.outcome]).toEqual([10, 12]);
    expect(q.size).toBe(0);
  });

  it('fails a failed round with its reason, and ignores contexts it does not hold', () => {
    const q = new ReadQueue('n1');
    const read = track(q, 0);
    q.startRound();
    q.roundAnswered('n9:1', 5, 5);
    q.roundFailed('n1:7', 'no-leader', '');
    expect(read.outcome).toBeNull();
    q.roundFailed('n1:1', 'no-leader', 'n2');
    expect(read.outcome).toBe('ReadIndexError:no-leader');
    // An answer after the failure changes nothing (track asserts one outcome).
    q.roundAnswered('n1:1', 5, 5);
    expect(q.size).toBe(0);
  });

  it('expires a round unanswered for the limit, counting from its first read', () => {
    const q = new ReadQueue('n1');
    const first = track(q, 10);
    const second = track(q, 40);
    q.startRound();
    q.expire(59, 50, 'n2');
    expect([first.outcome, second.outcome]).toEqual([null, null]);
    q.expire(60, 50, 'n2');
    expect([first.outcome, second.outcome]).toEqual(['ReadIndexError:timeout', 'ReadIndexError:timeout']);
    // Queued reads (no round yet) and reads waiting for the apply do not expire.
    const queued = track(q, 0);
    q.expire(1000, 50, 'n2');
    expect(queued.outcome).toBeNull();
  });

  it(`refuses read ${readsPendingMax + 1} while ${readsPendingMax} wait, and takes one again once one is answered`, () => {
    const q = new ReadQueue('n1');
    for (let i = 0; i < readsPendingMax; i++) q.add(0, () => undefined, () => undefined);
    expect(() => q.add(0, () => undefined, () => undefined)).toThrow(NodeOverloadedError);
    const context = q.startRound()!;
    q.roundAnswered(context, 1, 1);
    expect(q.size).toBe(0);
    expect(() => q.add(0, () => undefined, () => undefined)).not.toThrow();
  });

  it('fails every read it holds when the node stops: queued, in a round, or waiting for the apply', () => {
    const q = new ReadQueue('n1');
    const inRound = track(q, 0);
    q.startRound();
    const waiting = track(q, 0);
    q.roundAnswered(q.startRound()!, 9, 3);
    const queued = track(q, 0);
    q.failAll(new Error('stopped'));
    expect([inRound.outcome, waiting.outcome, queued.outcome]).toEqual(['Error', 'Error', 'Error']);
    expect(q.size).toBe(0);
  });
});
