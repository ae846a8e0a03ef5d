import { status as GrpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, TestudoError, UnavailableError } from '../../src/client/errors.js';
import { batchCallsInFlightMax, batchQueueMax, batchRetryAfterMs, batchWritesMax, WriteBatcher, type PutManyItem, type PutOutcome, type PutSenders, type PutWire } from '../../src/client/write-batcher.js';
import { keyBytesMax } from '../../src/coordinator/limits.js';

/**
 * The batcher's policy against senders that record each call and answer it
 * when the test says (the wire itself is tested on real clusters:
 * test/integration/put-many.test.ts).
 */
class Senders implements PutSenders {
  readonly calls: {
    kind: 'one' | 'many';
    puts: PutWire[];
    startedAtMs: number | undefined;
    answer: (items?: PutManyItem[]) => void;
    fail: (error: unknown) => void;
  }[] = [];
  index = 0;

  one(put: PutWire, startedAtMs?: number): Promise<PutOutcome> {
    return new Promise((resolve, reject) => {
      this.calls.push({ kind: 'one', puts: [put], startedAtMs, answer: () => resolve({ index: ++this.index, duplicate: false }), fail: reject });
    });
  }

  many(puts: readonly PutWire[], startedAtMs: number): Promise<readonly PutManyItem[]> {
    return new Promise((resolve, reject) => {
      const index = ++this.index;
      this.calls.push({
        kind: 'many',
        puts: [...puts],
        startedAtMs,
        answer: (items) => resolve(items ?? puts.map(() => ({ index, duplicate: false, error: '' }))),
        fail: reject,
      });
    });
  }

  inFlight(): number {
    return this.calls.length;
  }
}

const put = (n: number, extra: Partial<PutWire> = {}): PutWire => ({ key: `k${n}`, value: new Uint8Array([n & 0xff]), idempotencyKey: `c-${n}`, ...extra });
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('WriteBatcher', () => {
  it('sends a lone put as Kv.Put, in the same turn', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const result = batcher.put(put(1));
    await Promise.resolve();
    expect(senders.calls.map((c) => c.kind)).toEqual(['one']);
    senders.calls[0]!.answer();
    expect(await result).toEqual({ index: 1, duplicate: false });
    expect(batcher.batches.calls).toBe(0);
  });

  it('sends the puts of one turn as one Kv.PutMany and answers each caller from its own item', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const results = Array.from({ length: 10 }, (_, i) => batcher.put(put(i)));
    await turn();
    expect(senders.calls).toHaveLength(1);
    expect(senders.calls[0]!.kind).toBe('many');
    expect(senders.calls[0]!.puts.map((p) => p.key)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
    senders.calls[0]!.answer(Array.from({ length: 10 }, (_, i) => ({ index: 100 + i, duplicate: i === 3, error: '' })));
    expect(await Promise.all(results)).toEqual(Array.from({ length: 10 }, (_, i) => ({ index: 100 + i, duplicate: i === 3 })));
    expect(batcher.batches).toEqual({ calls: 1, writes: 10 });
  });

  it('keeps at most batchCallsInFlightMax calls in flight, batchWritesMax puts each; the rest wait for the next call', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const total = batchWritesMax * batchCallsInFlightMax + 5;
    const results = Array.from({ length: total }, (_, i) => batcher.put(put(i)));
    await turn();
    expect(senders.inFlight()).toBe(batchCallsInFlightMax);
    expect(senders.calls.every((c) => c.puts.length === batchWritesMax)).toBe(true);
    // The puts made while every call is in flight wait; one answer frees a call for them.
    const late = [batcher.put(put(total)), batcher.put(put(total + 1))];
    await turn();
    expect(senders.inFlight()).toBe(batchCallsInFlightMax);
    senders.calls[0]!.answer();
    // The answer's settling takes microtasks, then the next call waits one turn for the callers it released.
    await turn();
    await turn();
    expect(senders.calls).toHaveLength(batchCallsInFlightMax + 1);
    expect(senders.calls[batchCallsInFlightMax]!.puts.map((p) => p.key)).toEqual([total - 5, total - 4, total - 3, total - 2, total - 1, total, total + 1].map((n) => `k${n}`));
    for (const call of senders.calls.slice(1)) call.answer();
    await Promise.all([...results, ...late]);
  });

  it("counts a put's wait for a call against its own deadline: a call starts its clock when its oldest put was made", async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const madeFrom = Date.now();
    const results = Array.from({ length: batchWritesMax * batchCallsInFlightMax + 1 }, (_, i) => batcher.put(put(i)));
    const madeUntil = Date.now();
    await turn();
    for (const call of senders.calls) expect(call.startedAtMs).toBeGreaterThanOrEqual(madeFrom);
    await new Promise((resolve) => setTimeout(resolve, 50));
    senders.calls[0]!.answer();
    await turn();
    await turn();
    // The last put waited 50 ms for a free call; its call (a Kv.Put of one) carries when it was made.
    const late = senders.calls[batchCallsInFlightMax]!;
    expect(late.kind).toBe('one');
    expect(late.startedAtMs).toBeLessThanOrEqual(madeUntil);
    for (const call of senders.calls.slice(1)) call.answer();
    await Promise.all(results);
  });

  it('sends alone a put the server would refuse or a large value, so it fails without failing the others', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const results = [
      batcher.put(put(1)),
      batcher.put(put(2, { key: 'x'.repeat(keyBytesMax + 1) })),
      batcher.put(put(3, { value: new Uint8Array(64 * 1024 + 1) })),
      batcher.put(put(4)),
    ];
    await turn();
    expect(senders.calls.map((c) => [c.kind, c.puts.map((p) => p.key.slice(0, 2))])).toEqual([
      ['one', ['xx']],
      ['one', ['k3']],
      ['many', ['k1', 'k4']],
    ]);
    senders.calls[0]!.fail(new InvalidArgumentError('invalid key', { code: 'invalid', retryable: false }));
    senders.calls[1]!.answer();
    senders.calls[2]!.answer();
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('fails only the caller whose write the cluster refused within the batch', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const results = [batcher.put(put(1)), batcher.put(put(2)), batcher.put(put(3))];
    await turn();
    senders.calls[0]!.answer([
      { index: 7, duplicate: false, error: '' },
      { index: 0, duplicate: false, error: 'idempotency key "c-2" was first used for a delete at index 3, not a put' },
      { index: 7, duplicate: false, error: '' },
    ]);
    const settled = await Promise.allSettled(results);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { index: 7, duplicate: false } });
    expect(settled[1]!.status).toBe('rejected');
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toContain('first used for a delete');
    expect(settled[2]).toEqual({ status: 'fulfilled', value: { index: 7, duplicate: false } });
  });

  it('fails every caller of a batch whose call failed, and of an answer with the wrong number of items', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    const first = [batcher.put(put(1)), batcher.put(put(2))];
    await turn();
    senders.calls[0]!.fail(new UnavailableError('no leader', { code: 'no-leader', retryable: true }));
    expect((await Promise.allSettled(first)).map((s) => s.status)).toEqual(['rejected', 'rejected']);
    const second = [batcher.put(put(3)), batcher.put(put(4))];
    await turn();
    senders.calls[1]!.answer([{ index: 9, duplicate: false, error: '' }]);
    const settled = await Promise.allSettled(second);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled[0] as PromiseRejectedResult).reason)).toContain('1 results for a batch of 2 writes');
  });

  it('turns batching off for batchRetryAfterMs when the server does not know PutMany, sends that batch one by one, then tries again', async () => {
    const senders = new Senders();
    let nowMs = 1_000;
    const batcher = new WriteBatcher(senders, true, () => nowMs);
    const results = [batcher.put(put(1)), batcher.put(put(2))];
    await turn();
    senders.calls[0]!.fail(new TestudoError('unknown method', { code: 'unimplemented', retryable: false, grpcCode: GrpcStatus.UNIMPLEMENTED }));
    await turn();
    expect(senders.calls.slice(1).map((c) => [c.kind, c.puts[0]!.key])).toEqual([
      ['one', 'k1'],
      ['one', 'k2'],
    ]);
    for (const call of senders.calls.slice(1)) call.answer();
    await Promise.all(results);
    nowMs += batchRetryAfterMs - 1;
    const later = [batcher.put(put(3)), batcher.put(put(4))];
    await turn();
    expect(senders.calls.slice(3).map((c) => c.kind)).toEqual(['one', 'one']);
    for (const call of senders.calls.slice(3)) call.answer();
    await Promise.all(later);
    // The pause is over (the member may have been upgraded): the next puts go as one PutMany again.
    nowMs += 1;
    const after = [batcher.put(put(5)), batcher.put(put(6))];
    await turn();
    expect(senders.calls.slice(5).map((c) => [c.kind, c.puts.length])).toEqual([['many', 2]]);
    senders.calls[5]!.answer();
    await Promise.all(after);
    expect(batcher.batches).toEqual({ calls: 2, writes: 4 });
  });

  it('holds at most batchQueueMax puts waiting; a put beyond them is sent alone at once', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders);
    // Made in one turn, before any call leaves: the first batchQueueMax wait, the next goes alone.
    const results = Array.from({ length: batchQueueMax + 1 }, (_, i) => batcher.put(put(i)));
    expect(senders.calls.map((c) => [c.kind, c.puts[0]!.key])).toEqual([['one', `k${batchQueueMax}`]]);
    // The waiting ones go in batches as calls free up.
    let answered = 0;
    for (let rounds = 0; answered < senders.calls.length || rounds === 0; rounds++) {
      expect(rounds).toBeLessThan(100);
      await turn();
      await turn();
      for (const call of senders.calls.slice(answered)) call.answer();
      answered = senders.calls.length;
      await turn();
      await turn();
    }
    await Promise.all(results);
    expect(batcher.batches).toEqual({ calls: batchQueueMax / batchWritesMax, writes: batchQueueMax });
  });

  it('sends every put alone when batching is off', async () => {
    const senders = new Senders();
    const batcher = new WriteBatcher(senders, false);
    const results = [batcher.put(put(1)), batcher.put(put(2))];
    await turn();
    expect(senders.calls.map((c) => c.kind)).toEqual(['one', 'one']);
    for (const call of senders.calls) call.answer();
    await Promise.all(results);
  });
});
