/**
 * The failover drill's partition mode (the leader cut off through the fault
 * proxy) and its running-cluster mode (--coordinators host:port,…).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFailoverDrill } from '../../../src/bench/failover-drill.js';
import { LocalCluster } from '../../../src/cluster/local-cluster.js';

const quiet = (): void => undefined;

describe('testudo drill failover', () => {
  it('--mode partition isolates the leader through the proxy; a new leader takes writes and none is lost', async () => {
    const result = await runFailoverDrill({ rounds: 2, mode: 'partition', coordinators: 3, writeIntervalMs: 20, roundTimeoutMs: 15_000 }, quiet);
    expect(result).toMatchObject({ mode: 'partition', rounds: 2, lostWrites: 0, failedRounds: 0 });
    expect(result.failoverMs).toHaveLength(2);
    expect(result.ackedWrites).toBeGreaterThan(0);
  }, 120_000);

  it('drills a running cluster by its addresses with --mode transfer, and refuses the modes that need a local one', async () => {
    await expect(runFailoverDrill({ rounds: 1, mode: 'kill', coordinators: 3, endpoints: ['127.0.0.1:1'], writeIntervalMs: 20, roundTimeoutMs: 1_000 }, quiet)).rejects.toThrow(
      /--mode kill needs a local cluster/,
    );
    const dataDir = await mkdtemp(join(tmpdir(), 'testudo-drill-running-'));
    const cluster = new LocalCluster({ coordinators: 3, dataDir, baseHttpPort: null, logLevel: 'warn' });
    try {
      await cluster.start();
      const result = await runFailoverDrill({ rounds: 2, mode: 'transfer', coordinators: 3, endpoints: cluster.endpoints(), writeIntervalMs: 20, roundTimeoutMs: 15_000 }, quiet);
      expect(result).toMatchObject({ mode: 'transfer', lostWrites: 0, failedRounds: 0 });
      // The drill left the cluster running: it still takes writes.
      expect(cluster.endpoints()).toHaveLength(3);
    } finally {
      await cluster.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
