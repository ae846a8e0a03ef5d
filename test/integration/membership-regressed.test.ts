import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MemberStatus, TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { clientFor, stableLeader, startCluster, waitFor, runTestudo } from './harness.js';

/**
 * docs/operations.md "A follower whose log went back": a follower restarted
 * from an older copy of its whole data directory is reported (cluster status,
 * its /readyz, the leader's log) instead of being retried for ever, and
 * `testudo cluster repair-member` catches it up.
 */

let cleanups: (() => Promise<void>)[] = [];
let clients: TestudoClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** Longest the repair command may run here before the test calls it hung. */
const cliTimeoutMs = 60_000;

function testudo(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runTestudo(args, cliTimeoutMs);
}

async function readyz(c: LocalCluster, id: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${c.member(id).httpAddress!}/readyz`);
  return { status: response.status, body: await response.text() };
}

async function memberOf(client: TestudoClient, id: string): Promise<MemberStatus | undefined> {
  return (await client.clusterStatus()).members.find((m) => m.id === id);
}

/** Copies a member's data directory without its process log (the cluster keeps that file open). */
async function copyData(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, filter: (source) => basename(source) !== 'coordinator.log' });
}

async function replaceData(dataDir: string, backup: string): Promise<void> {
  for (const name of await readdir(dataDir)) if (name !== 'coordinator.log') await rm(join(dataDir, name), { recursive: true, force: true });
  await copyData(backup, dataDir);
}

async function writeMany(client: TestudoClient, prefix: string, count: number): Promise<void> {
  const concurrency = 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        await client.put(`${prefix}/${i}`, String(i));
      }
    }),
  );
}

describe('a follower restarted from an older copy of its data directory', () => {
  it('is reported stuck with the reason (status, /readyz 503, one error line on the leader) until repair-member catches it up', async () => {
    // A longer election timeout (0.5-1 s): a new leader starts with fresh progress and would catch the
    // follower up unaided, so a spurious election on a loaded machine would hide what this test looks at.
    const started = await startCluster({ coordinators: 3, electionTicks: 50 });
    cleanups.push(started.cleanup);
    const c = started.cluster;
    // One entry per write (no batches): the lags below are counted in entries.
    const client = clientFor(c, { totalTimeoutMs: 30_000, batchWrites: false });
    clients.push(client);
    const { leaderId } = await stableLeader(client, 3);
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leaderId)!;
    await writeMany(client, 'early', 50);

    // An older copy of the follower's whole data directory, taken while it is stopped.
    const backup = join(await mkdtemp(join(tmpdir(), 'testudo-regressed-')), 'copy');
    cleanups.push(() => rm(join(backup, '..'), { recursive: true, force: true }));
    await c.kill(follower, 'SIGTERM');
    await copyData(c.member(follower).dataDir, backup);
    await c.restart(follower);
    // Fewer entries than readyLagEntriesMax (1000): the 503 below must come from the leader's report, not the lag.
    await writeMany(client, 'later', 300);
    await waitFor('the follower back and caught up', async () => {
      const m = await memberOf(client, follower);
      return m !== undefined && m.reachable && m.lag === 0 && m.leaderId === leaderId;
    }, 60_000);

    await c.kill(follower, 'SIGTERM');
    await replaceData(c.member(follower).dataDir, backup);
    await c.restart(follower);
    await client.put('while-stuck', 'x');
    expect((await client.clusterStatus()).leaderId, 'the leader changed: its successor catches the follower up unaided').toBe(leaderId);

    let seen: unknown = null;
    const stuck = await waitFor('cluster status to report the follower regressed', async () => {
      const status = await client.clusterStatus();
      seen = status;
      const m = status.members.find((s) => s.id === follower);
      return m !== undefined && m.reachable && m.lagReason.includes('went back') ? m : undefined;
    }, 60_000).catch(async (error: unknown) => {
      const leaderLines = (await readFile(c.member(leaderId).logPath, 'utf8')).split('\n').filter((l) => l.includes('regress')).slice(0, 5);
      const followerLines = (await readFile(c.member(follower).logPath, 'utf8')).split('\n').slice(-12).map((l) => l.slice(0, 300));
      throw new Error(`${(error as Error).message}; last status: ${JSON.stringify(seen)}\nleader: ${leaderLines.join('\n')}\nfollower: ${followerLines.join('\n')}`);
    });
    expect(stuck.lag).toBeGreaterThan(250);
    expect(stuck.lagReason).toContain(`testudo cluster repair-member --id ${follower}`);
    const leaderView = (await memberOf(client, leaderId))!.progress.find((p) => p.id === follower)!;
    expect(leaderView.regressed).toBe(true);
    expect(leaderView.followerLastIndex).toBeLessThan(leaderView.regressedMatch);
    const notReady = await waitFor('the follower /readyz to say 503 because its log went back', async () => {
      const r = await readyz(c, follower);
      return r.status === 503 && r.body.includes('went back') ? r : undefined;
    });
    expect(notReady.body).toContain(`testudo cluster repair-member --id ${follower}`);
    expect((await readyz(c, leaderId)).status).toBe(200);
    const table = await testudo(['cluster', 'status', '--coordinators', c.endpoints().join(',')]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n').find((line) => line.startsWith(follower))).toContain(`its log went back`);
    // It stays stuck (the leader does not quietly retry it back) while the others keep committing.
    await writeMany(client, 'stuck', 20);
    const still = (await memberOf(client, follower))!;
    expect(still.lagReason).toContain('went back');
    expect(still.lag).toBeGreaterThanOrEqual(stuck.lag);
    expect((await stableLeader(client, 3)).leaderId).toBe(leaderId);

    const repaired = await testudo(['cluster', 'repair-member', '--id', follower, '--coordinators', c.endpoints().join(',')]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(JSON.parse(repaired.stdout)).toMatchObject({ id: follower, wasRegressed: true });
    await waitFor('the repaired follower caught up and ready', async () => {
      const m = await memberOf(client, follower);
      return m !== undefined && m.reachable && m.lag === 0 && m.lagReason === '' && (await readyz(c, follower)).status === 200;
    }, 60_000);
    const direct = clientFor(c, { endpoints: [c.member(follower).grpcAddress] });
    clients.push(direct);
    await waitFor('the follower serves the last writes', async () => new TextDecoder().decode((await direct.get('stuck/19', { stale: true })).value) === '19');

    const leaderLog = (await readFile(c.member(leaderId).logPath, 'utf8')).split('\n').filter((l) => l.includes('"follower-regressed"'));
    expect(leaderLog).toHaveLength(1);
    expect(JSON.parse(leaderLog[0]!)).toMatchObject({ level: 50, follower });
  });
});
