import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { clientFor, leadersByTerm, stableLeader, startCluster, waitFor, runTestudo } from './harness.js';

/**
 * docs/operations.md "Adding a member" and "Removing and replacing a member",
 * done as written there: real processes, the `testudo cluster` commands, and
 * new members started with `--join` only (no `--cluster-id`).
 */

let cleanups: (() => Promise<void>)[] = [];
let clients: TestudoClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** Longest one `testudo cluster …` command may run here before the test calls it hung. */
const cliTimeoutMs = 90_000;

function testudo(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runTestudo(args, cliTimeoutMs);
}

function endpointsOf(c: LocalCluster, ids: readonly string[]): string {
  return ids.map((id) => c.member(id).grpcAddress).join(',');
}

interface MembersReply {
  members: { id: string; address: string; kind: string }[];
}

function voters(reply: MembersReply): string[] {
  return reply.members
    .filter((m) => m.kind === 'voter')
    .map((m) => m.id)
    .sort();
}

async function allCaughtUp(client: TestudoClient, ids: readonly string[]): Promise<void> {
  await waitFor(`${ids.join(', ')} caught up`, async () => {
    const s = await client.clusterStatus();
    const listed = s.members.map((m) => m.id).sort();
    return listed.join() === [...ids].sort().join() && s.members.every((m) => m.reachable && m.lag === 0 && m.appliedIndex === m.commitIndex && m.leaderId === s.leaderId);
  }, 60_000);
}

/** A write that must commit now, through the members still in the cluster. */
async function expectWriteCommits(client: TestudoClient, key: string): Promise<void> {
  const put = await client.put(key, 'v');
  expect(put.index).toBeGreaterThan(0);
  expect(new TextDecoder().decode((await client.get(key)).value)).toBe('v');
}

/** A fresh 3-member cluster and a client of it, both cleaned up after the test. */
async function threeMembers(): Promise<{ c: LocalCluster; client: TestudoClient }> {
  const started = await startCluster({ coordinators: 3 });
  cleanups.push(started.cleanup);
  const client = clientFor(started.cluster, { totalTimeoutMs: 30_000 });
  clients.push(client);
  return { c: started.cluster, client };
}

async function clusterIdOf(c: LocalCluster, id: string): Promise<string> {
  return (JSON.parse(await readFile(join(c.member(id).dataDir, 'cluster.json'), 'utf8')) as { clusterId: string }).clusterId;
}

describe('membership changes as docs/operations.md describes them', () => {
  it('adds a member started without --cluster-id, replaces a live member (add, then remove) and a dead one (remove, then add), and the removed ones no longer count', async () => {
    const { c, client } = await threeMembers();
    await stableLeader(client, 3);
    for (let i = 0; i < 50; i++) await client.put(`before/${i}`, String(i));
    const clusterId = await clusterIdOf(c, 'n1');

    // Adding: start it with --join only, then add it.
    const n4 = await c.startJoiner('n4');
    const added = await testudo(['cluster', 'add-member', '--id', 'n4', '--address', n4.grpcAddress, '--coordinators', endpointsOf(c, ['n1', 'n2', 'n3'])]);
    expect(added.code, added.stderr).toBe(0);
    expect(voters(JSON.parse(added.stdout) as MembersReply)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(await clusterIdOf(c, 'n4')).toBe(clusterId);
    await allCaughtUp(client, ['n1', 'n2', 'n3', 'n4']);
    expect(await readFile(n4.logPath, 'utf8')).not.toContain('cluster id mismatch');
    await expectWriteCommits(client, 'after/add-n4');

    // Replacing a live member: n4 was added above; now remove n2, then stop it.
    const removedLive = await testudo(['cluster', 'remove-member', '--id', 'n2', '--coordinators', endpointsOf(c, ['n1', 'n3', 'n4'])]);
    expect(removedLive.code, removedLive.stderr).toBe(0);
    expect(voters(JSON.parse(removedLive.stdout) as MembersReply)).toEqual(['n1', 'n3', 'n4']);
    await c.kill('n2', 'SIGTERM');
    await allCaughtUp(client, ['n1', 'n3', 'n4']);
    await expectWriteCommits(client, 'after/remove-n2');

    // Replacing a dead member: n3 dies; remove it, then add n5 in its place.
    await c.kill('n3', 'SIGKILL');
    const removedDead = await testudo(['cluster', 'remove-member', '--id', 'n3', '--coordinators', endpointsOf(c, ['n1', 'n4'])]);
    expect(removedDead.code, removedDead.stderr).toBe(0);
    expect(voters(JSON.parse(removedDead.stdout) as MembersReply)).toEqual(['n1', 'n4']);
    await expectWriteCommits(client, 'after/remove-n3');
    const n5 = await c.startJoiner('n5');
    const replaced = await testudo(['cluster', 'add-member', '--id', 'n5', '--address', n5.grpcAddress, '--coordinators', endpointsOf(c, ['n1', 'n4'])]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(voters(JSON.parse(replaced.stdout) as MembersReply)).toEqual(['n1', 'n4', 'n5']);
    expect(await clusterIdOf(c, 'n5')).toBe(clusterId);
    await allCaughtUp(client, ['n1', 'n4', 'n5']);
    await expectWriteCommits(client, 'after/add-n5');

    // n2 and n3 no longer count: with one of the three voters left stopped as
    // well, two of three still commit (two of five, had they counted, would not).
    const { leaderId } = await stableLeader(client, 3);
    const follower = ['n1', 'n4', 'n5'].find((id) => id !== leaderId)!;
    await c.kill(follower, 'SIGKILL');
    const survivors = clientFor(c, { endpoints: ['n1', 'n4', 'n5'].filter((id) => id !== follower).map((id) => c.member(id).grpcAddress), totalTimeoutMs: 30_000 });
    clients.push(survivors);
    await expectWriteCommits(survivors, 'after/without-one-of-three');
    const status = await survivors.clusterStatus();
    expect(status.members.map((m) => m.id).sort()).toEqual(['n1', 'n4', 'n5']);
    const leaderRaft = (await (await fetch(`http://${c.member(leaderId).httpAddress!}/status`)).json()) as { confState: { voters: string[]; learners: string[] }; progress: Record<string, unknown> };
    expect([...leaderRaft.confState.voters].sort()).toEqual(['n1', 'n4', 'n5']);
    expect(leaderRaft.confState.learners).toEqual([]);
    expect(Object.keys(leaderRaft.progress).sort()).toEqual(['n1', 'n4', 'n5']);
    for (const [term, leaders] of await leadersByTerm(c)) expect([term, [...leaders]]).toEqual([term, [...leaders].slice(0, 1)]);
  });

  it('remove-member returns only once a majority of the remaining voters applied the removal, and names whom it waits for when they cannot', async () => {
    const { c, client } = await threeMembers();
    const { leaderId } = await stableLeader(client, 3);
    await client.put('before', 'v');
    const [stopped, removed] = ['n1', 'n2', 'n3'].filter((id) => id !== leaderId);
    // The one other voter that remains is stopped: the leader alone can apply the
    // removal, which is not a majority of the two that remain (and the leader,
    // which no longer hears from a majority, steps down after an election
    // timeout: the call fails either way, saying what to wait for).
    await c.pause(stopped!);
    const waited = await testudo(['cluster', 'remove-member', '--id', removed!, '--coordinators', endpointsOf(c, [leaderId])]);
    expect(waited.code, `remove-member returned while only the leader had applied the removal: ${waited.stdout}`).toBe(1);
    expect(waited.stdout).toBe('');
    expect(waited.stderr).toContain(`not-applied: `);
    expect(waited.stderr).toContain(`${removed} is removed`);
    expect(waited.stderr).toContain(`only ${leaderId} of the remaining voters`);
    expect(waited.stderr).toContain(`keep ${removed}'s process running until \`testudo cluster status\` shows ${stopped} applied past`);
    expect(waited.stderr).not.toContain('unexpected error');
    c.resume(stopped!);
    await allCaughtUp(client, [leaderId, stopped!]);
    await expectWriteCommits(client, 'after/remove');

    // With the remaining members up, it returns at once and a majority has applied the removal.
    const n4 = await c.startJoiner('n4');
    const added = await testudo(['cluster', 'add-member', '--id', 'n4', '--address', n4.grpcAddress, '--coordinators', endpointsOf(c, [leaderId, stopped!])]);
    expect(added.code, added.stderr).toBe(0);
    await allCaughtUp(client, [leaderId, stopped!, 'n4']);
    const removedLive = await testudo(['cluster', 'remove-member', '--id', 'n4', '--coordinators', endpointsOf(c, [leaderId, stopped!])]);
    expect(removedLive.code, removedLive.stderr).toBe(0);
    const statuses = await Promise.all([leaderId, stopped!].map((id) => clientFor(c, { endpoints: [c.member(id).grpcAddress] })).map(async (one) => {
      clients.push(one);
      return one.memberStatus();
    }));
    const removalIndex = statuses.find((s) => s.id === leaderId)!.appliedIndex;
    expect(statuses.every((s) => s.appliedIndex >= removalIndex)).toBe(true);
  });
});
