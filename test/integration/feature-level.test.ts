import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { Metadata, type Client } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import { callUnary, methods, openChannel } from '../../src/client/rpc.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { decodeCommand, type Command } from '../../src/coordinator/codec.js';
import { EntryType } from '../../src/raft/index.js';
import { LevelDbStorage } from '../../src/raft/storage/leveldb-storage.js';
import { clientFor, stableLeader, startCluster, waitFor } from './harness.js';
import { sleepRun } from './runs-harness.js';

/**
 * A cluster with a member of an older build (feature-level.ts): the member is
 * a real coordinator sending level 0 (TESTUDO_CHAOS_FEATURE_LEVEL, with
 * --chaos-hooks), and the test reads what the leader wrote to that member's
 * log. While it is at 0, no entry it could not apply: one `put` entry per put
 * of a Kv.PutMany call, and `submit-run` with its templates in full. Back at
 * level 1, `put_batch` entries and task deltas again.
 */
let c: LocalCluster;
let client: TestudoClient;
let cleanup: () => Promise<void>;
const channels: Client[] = [];

beforeAll(async () => {
  const started = await startCluster({ memberArgs: () => ['--chaos-hooks'] });
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

type Put = { key: string; value: Buffer; idempotencyKey: string };

/** One PutMany call on the wire to the member `id`; its per-write results. */
async function putMany(id: string, puts: Put[]): Promise<{ index: number; duplicate: boolean; error: string }[]> {
  const address = c.member(id).grpcAddress;
  const channel = openChannel(address, { messageBytesMax: 64 * 1024 * 1024 });
  channels.push(channel);
  const answer = await callUnary(channel, address, methods().putMany, { puts }, Date.now() + 10_000, new Metadata());
  if (!answer.ok) throw new Error(`PutMany failed: ${answer.error.message}`);
  return answer.response.results;
}

const puts = (tag: string, n: number): Put[] => Array.from({ length: n }, (_, i) => ({ key: `fl/${tag}${i}`, value: Buffer.from(`${tag}${i}`), idempotencyKey: `fl-${tag}-${i}` }));

/** The current leader's testudo_cluster_feature_level, from its real /metrics. */
async function clusterLevelMetric(): Promise<number> {
  const { leaderId } = await stableLeader(client);
  const text = await (await fetch(`http://${c.member(leaderId).httpAddress}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('testudo_cluster_feature_level{'));
  return Number(line?.split(' ').at(-1));
}

/** (Re)starts `id`, at `level` when given (else its build's). */
async function restartAt(id: string, level: string | null): Promise<void> {
  if (c.member(id).child !== null) await c.kill(id, 'SIGTERM');
  if (level !== null) process.env['TESTUDO_CHAOS_FEATURE_LEVEL'] = level;
  try {
    await c.restart(id);
  } finally {
    delete process.env['TESTUDO_CHAOS_FEATURE_LEVEL'];
  }
}

/** The leader's commit index now: every write acknowledged so far is at or below it. */
async function committed(leaderId: string): Promise<number> {
  return (await client.clusterStatus()).members.find((m) => m.id === leaderId)!.commitIndex;
}

/** Once `id` has applied `index`, stops it and reads every command in its log. */
async function commandsInLog(id: string, index: number): Promise<{ index: number; command: Command }[]> {
  await waitFor(`${id} applied ${index}`, async () => (await client.clusterStatus()).members.find((m) => m.id === id && m.appliedIndex >= index) !== undefined, 30_000);
  await c.kill(id, 'SIGTERM');
  const copy = await mkdtemp(join(tmpdir(), 'testudo-feature-level-'));
  try {
    await cp(join(c.member(id).dataDir, 'raft'), copy, { recursive: true });
    const storage = await LevelDbStorage.open(copy, { nodeId: id, createIfMissing: false, durableCheck: 'report' });
    try {
      const entries = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.POSITIVE_INFINITY);
      return entries.filter((e) => e.type === EntryType.Normal && e.data.length > 0).map((e) => ({ index: e.index, command: decodeCommand(e.data) }));
    } finally {
      await storage.close();
    }
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

/** The JSON of the submit-run entry for `runId`, as written (before the tasks are rebuilt from deltas). */
function submitRunJson(commands: { command: Command }[], runId: string): Record<string, unknown> {
  for (const { command } of commands) {
    if (command.op.type !== 'orch') continue;
    const json = (command.op.deflated ? inflateRawSync(command.op.payload) : Buffer.from(command.op.payload)).toString('utf8');
    const value = JSON.parse(json) as Record<string, unknown>;
    if (value['type'] === 'submit-run' && value['runId'] === runId) return value;
  }
  throw new Error(`no submit-run entry for ${runId}`);
}

describe('a cluster with a member of an older feature level', () => {
  it('writes only entries that member can apply while it is there, and the newer forms once it is back at this build\'s level', { timeout: 240_000 }, async () => {
    const leader = async (): Promise<string> => (await stableLeader(client, 3)).leaderId;
    const first = await leader();
    const old = ['n1', 'n2', 'n3'].find((id) => id !== first)!;
    await waitFor('every member at level 1', async () => (await clusterLevelMetric()) === 1);
    await restartAt(old, '0');
    await stableLeader(client, 3);
    await waitFor('the older member counted', async () => (await clusterLevelMetric()) === 0);

    // Level 0 in the cluster: a PutMany is one entry per write, each answered on its own.
    await client.delete('fl/deleted', { idempotencyKey: 'fl-used-for-delete' });
    const mixed = [...puts('a', 3), { key: 'fl/x', value: Buffer.from('x'), idempotencyKey: 'fl-used-for-delete' }];
    const alone = await putMany(await leader(), mixed);
    expect(alone.slice(0, 3).map((r) => ({ duplicate: r.duplicate, error: r.error }))).toEqual([0, 1, 2].map(() => ({ duplicate: false, error: '' })));
    expect(new Set(alone.slice(0, 3).map((r) => r.index)).size).toBe(3);
    expect(alone[3]).toMatchObject({ index: 0, duplicate: false });
    expect(alone[3]!.error).toMatch(/first used for a delete at index \d+, not a put/);
    for (const [i, r] of alone.slice(0, 3).entries()) expect(await client.get(`fl/a${i}`)).toMatchObject({ found: true, modIndex: r.index });
    // A retry of the same call: the first indexes, as duplicates.
    expect((await putMany(await leader(), puts('a', 3))).map((r) => r.index)).toEqual(alone.slice(0, 3).map((r) => r.index));
    await client.submitRun(sleepRun('at-level-0', 4, 0), { runId: 'fl-run-0' });

    const atZero = await commandsInLog(old, await committed(await leader()));
    expect(atZero.filter(({ command }) => command.op.type === 'put-batch')).toEqual([]);
    const full = submitRunJson(atZero, 'fl-run-0');
    expect(full).not.toHaveProperty('taskDeltas');
    expect((full['submission'] as { tasks: unknown[] }).tasks).toHaveLength(4);

    // Back at this build's level: once its stream says so, one entry per batch and task deltas again.
    await restartAt(old, null);
    const batched = await waitFor('a PutMany committed as one entry', async () => {
      const results = await putMany(await leader(), puts(`b${Date.now()}-`, 3));
      return new Set(results.map((r) => r.index)).size === 1 ? results : undefined;
    }, 30_000);
    expect(await clusterLevelMetric()).toBe(1);
    await client.submitRun(sleepRun('at-level-1', 4, 0), { runId: 'fl-run-1' });
    const atOne = await commandsInLog(old, await committed(await leader()));
    expect(atOne.find(({ index }) => index === batched[0]!.index)?.command.op.type).toBe('put-batch');
    const deltas = submitRunJson(atOne, 'fl-run-1');
    expect(deltas['taskDeltas']).toHaveLength(4);
    expect(deltas['submission']).not.toHaveProperty('tasks');
    await c.restart(old);

    // Both runs are the same on every member.
    for (const runId of ['fl-run-0', 'fl-run-1']) {
      const run = await client.getRun(runId);
      expect(run.tasks).toHaveLength(4);
    }
  });
});
