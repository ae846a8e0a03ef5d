import { idempotencyKeyProblem, keyProblem, valueProblem } from '../coordinator/limits.js';
import { InvalidArgumentError, TestudoError } from './errors.js';
import { status as GrpcStatus } from '@grpc/grpc-js';

/** One put as the client sends it (Kv.Put's request). */
export interface PutWire {
  readonly key: string;
  readonly value: Uint8Array;
  readonly idempotencyKey: string;
}

/** What a put resolves to. */
export interface PutOutcome {
  readonly index: number;
  readonly duplicate: boolean;
}

/** One write's answer in a PutMany response: `error` set when the cluster refused that write alone. */
export interface PutManyItem {
  readonly index: number;
  readonly duplicate: boolean;
  readonly error: string;
}

/**
 * How the batcher reaches the cluster: both run the client's retry policy
 * (src/client/connection.ts), whose total deadline counts from `startedAtMs`
 * (Date.now() when the put, or the oldest put of the call, was made), so the
 * time a put waited for a call counts against its own deadline.
 */
export interface PutSenders {
  /** Kv.Put. */
  one(put: PutWire, startedAtMs?: number): Promise<PutOutcome>;
  /** Kv.PutMany: one item per put, in order. */
  many(puts: readonly PutWire[], startedAtMs: number): Promise<readonly PutManyItem[]>;
}

/** Calls in flight at once; the puts made meanwhile wait and go together as the next call. */
export const batchCallsInFlightMax = 4;
/** Most puts in one call (the server takes up to 1,000). */
export const batchWritesMax = 256;
/** Most value bytes in one call: far inside a log entry (about 4 MiB) and the default message limit (16 MiB). */
export const batchValueBytesMax = 1024 * 1024;
/** A larger value always goes in a call of its own. */
export const batchedValueBytesMax = 64 * 1024;
/** Most puts waiting for a call; beyond it a put is sent alone at once, as it would be without batching. */
export const batchQueueMax = 4096;
/**
 * How long a server's UNIMPLEMENTED for PutMany turns batching off before
 * the next batch tries again: the member that answered may be an older build
 * replaced in a rolling upgrade, and the client should not stay on one call
 * per put for the rest of its life.
 */
export const batchRetryAfterMs = 60_000;

interface Queued {
  readonly put: PutWire;
  /** Date.now() when the put was made. */
  readonly madeAtMs: number;
  readonly resolve: (outcome: PutOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends the puts a client's callers make at the same time in one Kv.PutMany
 * call, committed in one log entry: the per-call cost of gRPC and the
 * per-entry cost of the log are paid once for the lot, and each caller
 * still gets its own answer once its write is committed.
 *
 * No put waits for company. A put made while no call is in flight is sent
 * at the end of the current turn (with whatever other puts that turn made);
 * one made while calls are in flight is sent as soon as fewer than
 * `batchCallsInFlightMax` are, in the next turn of the event loop, with the
 * puts made until then. A call of one put is a plain Kv.Put, so a lone
 * caller's write takes the path it always did.
 *
 * Each put keeps its own idempotency key, so the client's retries of a
 * PutMany apply every write once. A put that breaks a limit, or whose value
 * is over `batchedValueBytesMax`, is sent alone: the server refuses a batch
 * as a whole, and one caller's bad write must not fail the others. A server
 * that does not know PutMany (an older coordinator: UNIMPLEMENTED) turns
 * batching off for `batchRetryAfterMs`; the puts of that call are sent one
 * by one, and the first batch after the pause tries PutMany again. At most
 * `batchQueueMax` puts wait; more callers than that send theirs alone.
 */
export class WriteBatcher {
  readonly #send: PutSenders;
  #queue: Queued[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly #enabled: boolean;
  readonly #nowMs: () => number;
  /** Until when (on `nowMs`) puts go one by one after a server said it has no PutMany. */
  #pausedUntilMs = Number.NEGATIVE_INFINITY;
  #calls = 0;
  #writes = 0;

  /** `enabled` false: every put alone, always. `nowMs` stamps puts and times the pause after an UNIMPLEMENTED. */
  constructor(send: PutSenders, enabled = true, nowMs: () => number = Date.now) {
    this.#send = send;
    this.#enabled = enabled;
    this.#nowMs = nowMs;
  }

  /** Kv.PutMany calls made, and the puts they carried (for tests and benchmarks). */
  get batches(): { readonly calls: number; readonly writes: number } {
    return { calls: this.#calls, writes: this.#writes };
  }

  put(put: PutWire): Promise<PutOutcome> {
    if (!this.#enabled || this.#queue.length >= batchQueueMax || !batchable(put)) return this.#send.one(put);
    return new Promise<PutOutcome>((resolve, reject) => {
      this.#queue.push({ put, madeAtMs: this.#nowMs(), resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= batchCallsInFlightMax) return;
    this.#scheduled = true;
    // Idle: at the end of this turn's microtasks, so a lone write waits for nothing. Busy: after this
    // turn's I/O callbacks, so the callers an answer just released join the next call.
    if (this.#inFlight === 0) queueMicrotask(() => this.#flush());
    else setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0 && this.#inFlight < batchCallsInFlightMax) this.#sendNext(this.#take());
  }

  /** The next call's puts, oldest first, within the count and byte bounds. */
  #take(): Queued[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < batchWritesMax) {
      bytes += this.#queue[n]!.put.value.byteLength;
      if (n > 0 && bytes > batchValueBytesMax) break;
      n++;
    }
    const taken = this.#queue.slice(0, n);
    this.#queue = this.#queue.slice(n);
    return taken;
  }

  #sendNext(batch: Queued[]): void {
    this.#inFlight++;
    const done = (): void => {
      this.#inFlight--;
      if (this.#queue.length > 0) this.#schedule();
    };
    // While paused, the puts taken leave one call each, as one of the calls in flight.
    if (batch.length === 1 || this.#nowMs() < this.#pausedUntilMs) {
      void Promise.all(batch.map((q) => this.#send.one(q.put, q.madeAtMs).then(q.resolve, q.reject))).finally(done);
      return;
    }
    this.#calls++;
    this.#writes += batch.length;
    this.#send
      .many(
        batch.map((q) => q.put),
        batch[0]!.madeAtMs,
      )
      .then(
        (items) => settle(batch, items),
        (error: unknown) => {
          if (!isUnimplemented(error)) {
            for (const q of batch) q.reject(error);
            return;
          }
          this.#pausedUntilMs = this.#nowMs() + batchRetryAfterMs;
          for (const q of batch) this.#send.one(q.put, q.madeAtMs).then(q.resolve, q.reject);
        },
      )
      .finally(done);
  }
}

/** Whether the server would take this put in a batch: its limits hold and its value is small. */
function batchable(put: PutWire): boolean {
  return (
    put.idempotencyKey !== '' &&
    put.value.byteLength <= batchedValueBytesMax &&
    keyProblem(put.key) === null &&
    valueProblem(put.value) === null &&
    idempotencyKeyProblem(put.idempotencyKey) === null
  );
}

function settle(batch: readonly Queued[], items: readonly PutManyItem[]): void {
  if (items.length !== batch.length) {
    const error = new TestudoError(`the server answered ${items.length} results for a batch of ${batch.length} writes`, { code: 'internal', retryable: false });
    for (const q of batch) q.reject(error);
    return;
  }
  batch.forEach((q, i) => {
    const item = items[i]!;
    if (item.error !== '') q.reject(new InvalidArgumentError(`invalid: ${item.error}`, { code: 'invalid', retryable: false }));
    else q.resolve({ index: item.index, duplicate: item.duplicate });
  });
}

function isUnimplemented(error: unknown): boolean {
  return error instanceof TestudoError && error.grpcCode === GrpcStatus.UNIMPLEMENTED;
}
