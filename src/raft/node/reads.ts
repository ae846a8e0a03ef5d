// The node's linearizable reads, from `readIndex()` to the answer: queued
// reads leave together as one ReadIndex round (one context), the round's
// index comes back in a Ready's readStates (or its failure in readFailures),
// and each read is answered once the state machine has applied that index.
// No clock: time is the node's tick count, passed in.

import { assert } from '../core/errors.js';
import type { NodeId } from '../core/types.js';
import { NodeOverloadedError, ReadIndexError } from './node-errors.js';

/** Reads waiting at once (queued, in a round, or waiting for the apply); more are refused. */
export const readsPendingMax = 16_384;
/** Ticks a ReadIndex round may go unanswered before its reads fail (`RaftNodeOptions.readTimeoutTicks`). */
export const readTimeoutTicksDefault = 50;

interface PendingRead {
  /** The node's tick when the read was asked. */
  readonly startTick: number;
  resolve(index: number): void;
  reject(error: Error): void;
}

export class ReadQueue {
  /** Asked since the last round left. */
  private queued: PendingRead[] = [];
  /** Rounds sent, by context, oldest first (Map keeps insertion order). */
  private readonly rounds = new Map<string, PendingRead[]>();
  /** Answered rounds' reads waiting for the apply, by index ascending. */
  private waitingApply: { index: number; read: PendingRead }[] = [];
  private pending = 0;
  private roundSeq = 0;

  /** `nodeId` names the rounds' contexts, so a context is never another node's. */
  constructor(private readonly nodeId: NodeId) {}

  /** Reads not yet answered. */
  get size(): number {
    return this.pending;
  }

  /** Queues a read for the next round; throws NodeOverloadedError past {@link readsPendingMax}. */
  add(startTick: number, resolve: (index: number) => void, reject: (error: Error) => void): void {
    if (this.pending >= readsPendingMax) throw new NodeOverloadedError(this.pending, readsPendingMax);
    this.pending++;
    this.queued.push({ startTick, resolve, reject });
  }

  /** The context of a new round holding every queued read, or null when none is queued. The caller asks the core for it. */
  startRound(): string | null {
    if (this.queued.length === 0) return null;
    const context = `${this.nodeId}:${++this.roundSeq}`;
    this.rounds.set(context, this.queued);
    this.queued = [];
    return context;
  }

  /** A round's index came back: its reads wait for the apply, answered at once when `applied` has reached it. */
  roundAnswered(context: string, index: number, applied: number): void {
    const round = this.rounds.get(context);
    if (round === undefined) return;
    this.rounds.delete(context);
    for (const read of round) this.waitingApply.push({ index, read });
    this.waitingApply.sort((a, b) => a.index - b.index);
    this.serve(applied);
  }

  /** A round failed (no leader, a leader without a commit in its term, …): its reads fail with the reason. */
  roundFailed(context: string, reason: ReadIndexError['reason'], leader: NodeId): void {
    const round = this.rounds.get(context);
    if (round === undefined) return;
    this.rounds.delete(context);
    for (const read of round) this.finish(read, new ReadIndexError(reason, leader));
  }

  /** Answers every read whose index the state machine has applied. */
  serve(applied: number): void {
    let served = 0;
    for (const waiting of this.waitingApply) {
      if (waiting.index > applied) break;
      this.finish(waiting.read, waiting.index);
      served++;
    }
    if (served > 0) this.waitingApply.splice(0, served);
  }

  /** Fails the reads of rounds unanswered for `limitTicks` (a lost message, a partition). */
  expire(tick: number, limitTicks: number, leader: NodeId): void {
    for (const [context, round] of this.rounds) {
      const first = round[0];
      if (first === undefined || tick - first.startTick < limitTicks) continue;
      this.rounds.delete(context);
      for (const read of round) this.finish(read, new ReadIndexError('timeout', leader));
    }
  }

  /** Fails every read not yet answered (the node stops). */
  failAll(error: Error): void {
    for (const round of this.rounds.values()) for (const read of round) this.finish(read, error);
    this.rounds.clear();
    for (const read of this.queued) this.finish(read, error);
    this.queued = [];
    for (const { read } of this.waitingApply) this.finish(read, error);
    this.waitingApply = [];
    assert(this.pending === 0, `${this.pending} reads left unanswered after failing them all`);
  }

  private finish(read: PendingRead, outcome: number | Error): void {
    this.pending--;
    assert(this.pending >= 0, 'a read answered twice');
    if (typeof outcome === 'number') read.resolve(outcome);
    else read.reject(outcome);
  }
}
