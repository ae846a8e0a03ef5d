/**
 * Real coordinator processes whose Raft data went back while they were
 * stopped: a truncated LevelDB log file (issue 12's `truncate -s`) and a
 * wiped raft/ beside a kept cluster.json. Each restart must exit 3 with a
 * message naming what is missing and how to recover, instead of starting as
 * a voter that forgot its term, vote or acknowledged entries. The planted bug
 * (the check skipped) proves the test can fail: the same node then starts.
 */
import { readdir, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { clientFor, memberStatusOf, stableLeader, startCluster, waitFor } from './harness.js';

const writes = 400;
const valueBytes = 2000;
const writersCount = 16;
const exitWaitMs = 60_000;

let cluster: LocalCluster;
let client: TestudoClient;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  // --chaos-hooks only so that the planted-bug test below can skip the durable check.
  ({ cluster, cleanup } = await startCluster({ memberArgs: () => ['--chaos-hooks'] }));
  client = clientFor(cluster);
  await stableLeader(client, 3);
  const value = 'v'.repeat(valueBytes);
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < writes) await client.put(`durable/${String(next++).padStart(5, '0')}`, value);
  };
  await Promise.all(Array.from({ length: writersCount }, writer));
  // Every member holds every write before one of them is stopped.
  await waitFor('every member applied the writes', async () => {
    const status = await client.clusterStatus();
    const leader = status.members.find((m) => m.role === 'leader');
    return leader !== undefined && status.members.every((m) => m.reachable && m.appliedIndex >= leader.commitIndex);
  });
}, 120_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

/** A member other than the leader, so the cluster keeps its quorum and leader while it is down. */
async function follower(exclude: readonly string[] = []): Promise<string> {
  const { leaderId } = await stableLeader(client);
  const id = [...cluster.members.keys()].find((m) => m !== leaderId && !exclude.includes(m));
  if (id === undefined) throw new Error('no follower to stop');
  return id;
}

async function stopGracefully(id: string): Promise<void> {
  await cluster.kill(id, 'SIGTERM');
  expect(cluster.member(id).child).toBeNull();
}

/** Restarts a stopped member and waits for its process to end by itself. */
async function restartAndWaitForExit(id: string): Promise<number | null> {
  await cluster.restart(id);
  const exited = cluster.exited(id)!;
  const timeout = new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), exitWaitMs).unref());
  const outcome = await Promise.race([exited, timeout]);
  if (outcome === 'running') throw new Error(`${id} still runs ${exitWaitMs} ms after restart: it did not refuse its data`);
  return outcome;
}

/** The log lines written after `offset` bytes (each restart appends to the same file). */
async function logSince(id: string, offset: number): Promise<string> {
  return (await readFile(cluster.member(id).logPath)).subarray(offset).toString('utf8');
}

async function logSize(id: string): Promise<number> {
  return (await stat(cluster.member(id).logPath)).size;
}

describe('a coordinator whose durable state went back refuses to start (exit 3)', () => {
  it('refuses a truncated LevelDB log file, naming what went back; with the check planted away it starts', { timeout: 180_000 }, async () => {
    const id = await follower();
    const { lastIndex } = await memberStatusOf(client, cluster.member(id).grpcAddress);
    await stopGracefully(id);
    const raftDir = join(cluster.member(id).dataDir, 'raft');
    const logs = (await readdir(raftDir)).filter((name) => name.endsWith('.log'));
    const sizes = await Promise.all(logs.map(async (name) => ({ path: join(raftDir, name), size: (await stat(join(raftDir, name))).size })));
    const largest = sizes.sort((a, b) => b.size - a.size)[0]!;
    expect(largest.size).toBeGreaterThan(writes * valueBytes);
    await truncate(largest.path, Math.floor(largest.size / 2));

    const offset = await logSize(id);
    expect(await restartAndWaitForExit(id)).toBe(3);
    const said = await logSince(id, offset);
    expect(said).toContain(`testudo coordinator ${id}: refusing to start`);
    expect(said).toMatch(/DurableStateRolledBackError|holds less than this node recorded as durable/);
    expect(said).toMatch(new RegExp(`but index (\\d+) was acknowledged as durable`));
    const acknowledged = Number(/but index (\d+) was acknowledged as durable/.exec(said)![1]);
    expect(acknowledged).toBeGreaterThanOrEqual(lastIndex);
    expect(said).toContain(`testudo cluster remove-member --id ${id}`);
    expect(said).toContain('docs/operations.md');

    // The planted bug: the same directory, the check skipped, and the node starts as if nothing were missing.
    process.env['TESTUDO_CHAOS_PLANTED_BUG'] = 'skip-durable-check';
    const plantedOffset = await logSize(id);
    try {
      await cluster.restart(id);
    } finally {
      delete process.env['TESTUDO_CHAOS_PLANTED_BUG'];
    }
    await waitFor(`${id} started with the check skipped`, async () => (await logSince(id, plantedOffset)).includes('coordinator started'), 60_000);
    expect(cluster.member(id).child).not.toBeNull();
    await stopGracefully(id);
  });

  it('refuses a wiped raft/ beside a kept cluster.json instead of starting as an empty voter', { timeout: 180_000 }, async () => {
    await stableLeader(client);
    // The member the first test left stopped, if any, so the other two keep their quorum.
    const id = [...cluster.members.values()].find((m) => m.child === null)?.id ?? (await follower());
    await stopGracefully(id);
    const dataDir = cluster.member(id).dataDir;
    await rm(join(dataDir, 'raft'), { recursive: true });
    expect((await readdir(dataDir)).includes('cluster.json')).toBe(true);

    const offset = await logSize(id);
    expect(await restartAndWaitForExit(id)).toBe(3);
    const said = await logSince(id, offset);
    expect(said).toContain(`testudo coordinator ${id}: refusing to start`);
    expect(said).toContain('holds cluster.json');
    expect(said).toContain('raft/) is missing or empty');
    expect(said).toContain(`testudo cluster remove-member --id ${id}`);
    // It wrote no Raft data on its way out.
    await expect(readdir(join(dataDir, 'raft'))).rejects.toThrow(/ENOENT/);
    wipedId = id;
  });

  it('the wiped member rejoins as a new member, as docs/operations.md says: remove, fresh directory, --join, add', { timeout: 180_000 }, async () => {
    const id = wipedId;
    if (id === null) throw new Error('the wiped-directory test did not leave a wiped member');
    const member = cluster.member(id);
    const clusterId = JSON.parse(await readFile(join(member.dataDir, 'cluster.json'), 'utf8')) as { clusterId: string };
    const removed = await client.removeMember(id, { callTimeoutMs: 30_000 });
    expect(removed.members.map((m) => m.id)).not.toContain(id);
    await rename(member.dataDir, `${member.dataDir}.damaged`);
    cluster.members.delete(id);
    const joiner = await cluster.startJoiner(id, clusterId.clusterId);
    const added = await client.addMember({ id, address: joiner.grpcAddress }, { callTimeoutMs: 60_000 });
    expect(added.promoted).toBe(true);
    expect(added.members.filter((m) => m.kind === 'voter').map((m) => m.id).sort()).toEqual([...cluster.members.keys()].sort());
    // It caught up: it serves every write made before it lost its data.
    const direct = clientFor(cluster, { endpoints: [joiner.grpcAddress] });
    try {
      const read = await waitFor(`${id} serves the last write`, async () => {
        const got = await direct.get(`durable/${String(writes - 1).padStart(5, '0')}`, { stale: true });
        return got.servedBy === id ? got : undefined;
      }, 60_000);
      expect(new TextDecoder().decode(read.value)).toBe('v'.repeat(valueBytes));
    } finally {
      direct.close();
    }
  });
});

let wipedId: string | null = null;
