// Writes during an election (services.ts onLeader, leader-wait.ts), on one
// real 3-node cluster of coordinator processes:
// - writes sent to a follower while the leader is killed with SIGKILL all
//   succeed: none is answered "no leader" or "not leader", none is lost;
// - once the cluster has lost its quorum, a write waits out the hold (one
//   election timeout) and is answered "no leader", well before its deadline;
// - `drill failover` and `bench raft` on that cluster exit 3.
// The writes go straight to the follower over gRPC (no client library, no
// retries), so every answer the coordinator gives is seen.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { testudoServices } from '../../src/common/testudo-proto.js';
import { clientFor, runTestudo, stableLeader, startCluster, waitFor } from './harness.js';

/**
 * A long election timeout (10 ms × 200 = the hold, 2 s): after a kill the
 * first survivor campaigns within a tick or two, or the second half an
 * election timeout later if the first could not win; a loaded machine
 * stretches either, and the hold must outlast it for the test to say
 * "never no-leader".
 */
const tickMs = 10;
const electionTicks = 200;
const holdMs = tickMs * electionTicks;
/** Deadline of each write: far beyond the hold, so an answer before it shows the hold's bound. */
const writeDeadlineMs = 10_000;

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: TestudoClient;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ coordinators: 3, tickMs, electionTicks, logLevel: 'info' }));
  client = clientFor(cluster);
  await stableLeader(client, 3);
}, 120_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

interface Outcome {
  readonly key: string;
  readonly ok: boolean;
  /** testudo-error of a failure ('no-leader', 'not-leader', …), or the gRPC status name. */
  readonly error: string;
  readonly startedAtMs: number;
  readonly answeredAtMs: number;
}

/** One Kv.Put straight to `address`, no retry: what that coordinator answered. */
function putOnce(kv: grpc.Client, key: string): Promise<Outcome> {
  const startedAtMs = Date.now();
  const put = (kv as unknown as Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void>)['Put']!;
  return new Promise((resolve) => {
    put.call(kv, { key, value: Buffer.from(key), idempotencyKey: `hold-${key}` }, new grpc.Metadata(), { deadline: startedAtMs + writeDeadlineMs }, (error) => {
      const answeredAtMs = Date.now();
      if (error === null) return resolve({ key, ok: true, error: '', startedAtMs, answeredAtMs });
      const code = error.metadata?.get('testudo-error')[0];
      resolve({ key, ok: false, error: typeof code === 'string' ? code : grpc.status[error.code] ?? String(error.code), startedAtMs, answeredAtMs });
    });
  });
}

function kvClient(address: string): grpc.Client {
  return new (testudoServices().Kv)(address, grpc.credentials.createInsecure());
}

describe('writes to a follower while the leader is killed', () => {
  it('all succeed (none answered no-leader or not-leader) and none is lost', async () => {
    const { leaderId } = await stableLeader(client, 3);
    const followerId = [...cluster.members.keys()].find((id) => id !== leaderId)!;
    const kv = kvClient(cluster.member(followerId).grpcAddress);
    try {
      const writes: Promise<Outcome>[] = [];
      let seq = 0;
      const issue = (): void => void writes.push(putOnce(kv, `hold/${String(++seq).padStart(5, '0')}`));
      // A write every 5 ms from before the kill until well after the new leader is known.
      const timer = setInterval(issue, 5);
      try {
        await waitFor('writes before the kill', async () => (await Promise.all(writes.slice(0, 10))).length === 10 && writes.length >= 10);
        await cluster.kill(leaderId, 'SIGKILL');
        const killedAtSeq = seq;
        const next = await stableLeaderOf(client, leaderId);
        expect(next).not.toBe(leaderId);
        await waitFor('writes after the election', () => seq >= killedAtSeq + 40);
      } finally {
        clearInterval(timer);
      }
      const outcomes = await Promise.all(writes);
      const failed = outcomes.filter((o) => !o.ok);
      expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
      const values = new Map<string, string>();
      for await (const item of client.listAll({ prefix: 'hold/', pageSize: 5000 })) values.set(item.key, new TextDecoder().decode(item.value));
      expect(outcomes.filter((o) => values.get(o.key) !== o.key).map((o) => o.key)).toEqual([]);
    } finally {
      kv.close();
    }
  }, 120_000);
});

describe('a cluster without quorum', () => {
  it('holds a write for one election timeout, then answers no-leader, long before the deadline', async () => {
    const { leaderId } = await stableLeaderOf(client, '');
    const live = [...cluster.members.values()].filter((m) => m.child !== null).map((m) => m.id);
    const survivor = live.find((id) => id !== leaderId)!;
    await cluster.kill(leaderId, 'SIGKILL');
    const kv = kvClient(cluster.member(survivor).grpcAddress);
    try {
      // The survivor forgets the killed leader at once (its streams close) and never wins a vote.
      await waitFor('the survivor to know no leader', async () => (await client.memberStatus(cluster.member(survivor).grpcAddress)).leaderId === '', 60_000);
      const outcome = await putOnce(kv, 'noquorum/1');
      expect(outcome.error).toBe('no-leader');
      // Held for the whole hold (a timer never fires early), answered long before the 10 s deadline.
      expect(outcome.answeredAtMs - outcome.startedAtMs).toBeGreaterThanOrEqual(holdMs - 20);
    } finally {
      kv.close();
    }
  }, 120_000);

  it('drill failover and bench raft exit 3 and say who was seen', async () => {
    const coordinators = cluster.endpoints().join(',');
    const [drill, bench] = await Promise.all([
      runTestudo(['drill', 'failover', '--coordinators', coordinators, '--mode', 'transfer', '--rounds', '1', '--wait', '1500'], 60_000),
      runTestudo(['bench', 'raft', '--coordinators', coordinators, '--ops', '10', '--warmup-ops', '0', '--wait', '1500'], 60_000),
    ]);
    for (const o of [drill, bench]) {
      const label = JSON.stringify(o);
      expect(o.code, label).toBe(3);
      expect(o.stdout, label).toBe('');
      expect(o.stderr, label).toMatch(/testudo: no stable leader at \S+ within 1\.5 s \(last seen: .*unreachable/);
      expect(o.stderr, label).toContain('--wait MS waits longer');
    }
  }, 120_000);
});

/** The leader the reachable members agree on, once it is not `not`. */
async function stableLeaderOf(c: TestudoClient, not: string): Promise<{ leaderId: string }> {
  return waitFor(`a leader other than ${not || 'none'}`, async () => {
    const status = await c.clusterStatus();
    const reachable = status.members.filter((m) => m.reachable);
    const leader = reachable.find((m) => m.role === 'leader');
    if (leader === undefined || leader.id === not || !reachable.every((m) => m.leaderId === leader.id)) return undefined;
    return { leaderId: leader.id };
  }, 60_000);
}
