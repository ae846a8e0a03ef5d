import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EtcdClient } from '../../src/bench/etcd-client.js';
import { EtcdCluster, etcdInstallHint, findEtcdBinary } from '../../src/bench/etcd-cluster.js';
import { readBack } from '../../src/bench/etcd-bench.js';
import { runLoadProcess } from '../../src/bench/raft.js';
import { runCli } from '../cli/cli-process.js';

/**
 * `bench raft --compare etcd` against a real etcd (Debian's etcd-server,
 * which .ci/run installs): the same load process writes to a real 3-member
 * etcd cluster and every acknowledged write is read back; one small compare
 * run through the CLI; the exit when no etcd binary is found.
 */

const valueBytes = 256;

describe('the etcd side of bench raft', () => {
  let cluster: EtcdCluster;
  let leaderFirst: string[];

  beforeAll(async () => {
    cluster = new EtcdCluster({ binary: findEtcdBinary(), members: 3 });
    await cluster.start();
    const { leader } = await cluster.waitForLeader();
    const own = `127.0.0.1:${leader.clientPort}`;
    leaderFirst = [own, ...cluster.endpoints().filter((e) => e !== own)];
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('commits exactly the writes the load process saw acknowledged, each the same 256-byte value', async () => {
    const phases: string[] = [];
    const load = await runLoadProcess(
      leaderFirst,
      { clients: 4, ops: 300, valueBytes, warmupOps: 40 },
      { onTimedStart: () => phases.push('timed'), onResult: () => phases.push('result') },
      'etcd',
    );
    expect(phases).toEqual(['timed', 'result']);
    expect(load).toMatchObject({ ops: 300, errors: 0, clients: 4, valueBytes });
    expect(load.p50Ms).toBeGreaterThan(0);
    // The test's own reads: a sample of keys, each with the number of puts the round robin gave it.
    const client = new EtcdClient(cluster.endpoints());
    try {
      const range = await client.rangePrefix(cluster.endpoints()[1]!, 'k', { keysOnly: false });
      expect(range.kvs.map((kv) => kv.key).sort()).toEqual(Array.from({ length: 300 }, (_, i) => `k${i}`).sort());
      for (const kv of range.kvs) expect(kv).toMatchObject({ version: 1, value: range.kvs[0]!.value });
      expect(range.kvs[0]!.value.length).toBe(valueBytes);
    } finally {
      client.close();
    }
    expect(await readBack(leaderFirst, valueBytes)).toMatchObject({ committedWrites: 340 });
  });

  it('the read-back sees a write nobody acknowledged, and a value that is not the load\'s', async () => {
    const client = new EtcdClient(leaderFirst);
    try {
      const before = await readBack(leaderFirst, valueBytes);
      await client.put('k7', new Uint8Array(valueBytes)); // an extra put: one more than the load's acknowledged writes
      expect((await readBack(leaderFirst, valueBytes)).committedWrites).toBe(before.committedWrites + 1);
      await client.put('k0', Buffer.from('short'));
      await expect(readBack(leaderFirst, valueBytes)).rejects.toThrow(/key k0 holds 5 bytes/);
    } finally {
      client.close();
    }
  });
});

describe('testudo bench raft --compare etcd', () => {
  it('prints one JSON object with both sides, their rounds, the ratios, and every etcd write read back', async () => {
    const out = await runCli(['bench', 'raft', '--compare', 'etcd', '--rounds', '1', '--clients', '4', '--ops', '60', '--warmup-ops', '20']);
    expect(out.code, out.stderr.toString()).toBe(0);
    const result = JSON.parse(out.stdout.toString().trim().split('\n').pop()!) as Record<string, Record<string, unknown>>;
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['testudo', 'etcd', 'ratios', 'ratiosByRound']));
    for (const side of [result['testudo']!, result['etcd']!]) {
      for (const figure of ['writesPerSec', 'p50Ms', 'p99Ms', 'cpuUsPerWrite', 'clientCpuUsPerWrite']) expect(side[figure]).toBeGreaterThan(0);
      expect(side['rounds']).toHaveLength(1);
      expect((side['rounds'] as { ops: number; errors: number }[])[0]).toMatchObject({ ops: 60, errors: 0 });
    }
    expect(result['etcd']).toMatchObject({ ackedWrites: 80, committedWrites: 80 });
    const ratios = result['ratios']!;
    for (const key of ['writesPerSec', 'p50', 'cpuUsPerWrite']) expect(ratios[key]).toBeGreaterThan(0);
    const t = result['testudo'] as { writesPerSec: number };
    const e = result['etcd'] as { writesPerSec: number };
    expect(ratios['writesPerSec']).toBeCloseTo(t.writesPerSec / e.writesPerSec, 2);
  });

  it('exits 2 naming the package to install when there is no etcd binary', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'testudo-no-etcd-'));
    try {
      const onPath = await runCli(['bench', 'raft', '--compare', 'etcd', '--ops', '10'], { PATH: empty });
      expect(onPath.code).toBe(2);
      expect(onPath.stderr.toString()).toContain(etcdInstallHint);
      const given = await runCli(['drill', 'failover', '--compare', 'etcd', '--etcd-bin', join(empty, 'etcd')]);
      expect(given.code).toBe(2);
      expect(given.stderr.toString()).toMatch(/no etcd binary at .*--etcd-bin/s);
      expect(given.stderr.toString()).toContain(etcdInstallHint);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
