import { Metadata, status as GrpcStatus, type Client } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import { callUnary, methods, openChannel } from '../../src/client/rpc.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { putBatchWritesMax } from '../../src/coordinator/codec.js';
import { clientFor, stableLeader, startCluster } from './harness.js';

/** Kv.PutMany on a cluster of real coordinator processes: the wire, its refusals, and the client's batches of concurrent puts. */
let c: LocalCluster;
let client: TestudoClient;
let cleanup: () => Promise<void>;
const channels: Client[] = [];

beforeAll(async () => {
  const started = await startCluster();
  c = started.cluster;
  cleanup = started.cleanup;
  client = clientFor(c);
  await stableLeader(client, 3);
}, 60_000);

afterAll(async () => {
  for (const channel of channels) channel.close();
  client.close();
  await cleanup();
});

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

/** One PutMany call straight on the wire to the member `id` (no client retries, no leader following). */
async function putMany(id: string, puts: { key: string; value: Buffer; idempotencyKey: string }[]) {
  const address = c.member(id).grpcAddress;
  const channel = openChannel(address, { messageBytesMax: 64 * 1024 * 1024 });
  channels.push(channel);
  return callUnary(channel, address, methods().putMany, { puts }, Date.now() + 10_000, new Metadata());
}

describe('Kv.PutMany on a real cluster', () => {
  it('commits the writes in one entry, forwarded from a follower, and answers a retry as duplicates', async () => {
    const { leaderId } = await stableLeader(client, 3);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leaderId)!;
    const puts = [0, 1, 2].map((i) => ({ key: `pm/a${i}`, value: text(`v${i}`), idempotencyKey: `pm-a-${i}` }));
    const first = await putMany(follower, puts);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    const results = first.response.results;
    expect(results).toHaveLength(3);
    const index = results[0]!.index;
    expect(index).toBeGreaterThan(0);
    expect(results).toEqual(puts.map(() => ({ index, duplicate: false, error: '' })));
    for (const [i, put] of puts.entries()) {
      const got = await client.get(put.key);
      expect(got).toMatchObject({ found: true, modIndex: index });
      expect(Buffer.from(got.value ?? []).toString()).toBe(`v${i}`);
    }
    // The same call again (a client's retry): nothing applied twice, the first index answered.
    const again = await putMany(leaderId, puts.map((p) => ({ ...p, value: text('changed') })));
    expect(again.ok && again.response.results).toEqual(puts.map(() => ({ index, duplicate: true, error: '' })));
    const after = await client.get('pm/a1');
    expect(Buffer.from(after.value ?? []).toString()).toBe('v1');
  });

  it('refuses a batch with one bad write as a whole, naming it, and writes nothing', async () => {
    const { leaderId } = await stableLeader(client, 3);
    const cases: [{ key: string; value: Buffer; idempotencyKey: string }[], RegExp][] = [
      [
        [
          { key: 'pm/b0', value: text('x'), idempotencyKey: 'pm-b-0' },
          { key: '', value: text('x'), idempotencyKey: 'pm-b-1' },
        ],
        /invalid puts\[1\]\.key: must not be empty/,
      ],
      [
        [
          { key: 'pm/b0', value: text('x'), idempotencyKey: 'pm-b-0' },
          { key: 'pm/b1', value: text('x'), idempotencyKey: '' },
        ],
        /invalid puts\[1\]\.idempotency_key: is required in a batch/,
      ],
      [[], /invalid puts: is empty/],
      [Array.from({ length: putBatchWritesMax + 1 }, (_, i) => ({ key: `pm/c${i}`, value: text('x'), idempotencyKey: `pm-c-${i}` })), /limit 1000/],
    ];
    for (const [puts, message] of cases) {
      const outcome = await putMany(leaderId, puts);
      expect(outcome.ok).toBe(false);
      if (outcome.ok) continue;
      expect(outcome.error.grpcCode).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(outcome.error.code).toBe('invalid');
      expect(outcome.error.message).toMatch(message);
    }
    expect((await client.get('pm/b0')).found).toBe(false);
    expect((await client.list({ prefix: 'pm/c' })).items).toEqual([]);
  });

  it("sends a client's concurrent puts in batches, each caller answered with its own write committed", async () => {
    const before = client.writeBatches;
    const callers = 32;
    const perCaller = 20;
    const written = new Map<string, number>();
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        for (let n = 0; n < perCaller; n++) {
          const key = `pm/load/${caller}/${n}`;
          const result = await client.put(key, `${caller}:${n}`);
          expect(result.duplicate).toBe(false);
          written.set(key, result.index);
        }
      }),
    );
    const after = client.writeBatches;
    const calls = after.calls - before.calls;
    const writes = after.writes - before.writes;
    // Most puts went in batches of more than one (the first turn alone makes one of 32).
    expect(calls).toBeGreaterThan(0);
    expect(writes / calls).toBeGreaterThan(2);
    expect(writes).toBeGreaterThan((callers * perCaller) / 2);
    const items = new Map<string, { value: string; modIndex: number }>();
    for await (const item of client.listAll({ prefix: 'pm/load/' })) items.set(item.key, { value: Buffer.from(item.value).toString(), modIndex: item.modIndex });
    expect(items.size).toBe(callers * perCaller);
    for (const [key, index] of written) {
      const [caller, n] = key.split('/').slice(2);
      expect(items.get(key)).toEqual({ value: `${caller}:${n}`, modIndex: index });
    }
  });
});
